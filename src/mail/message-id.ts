/**
 * Which Message-IDs m4me uses. A Message-ID is copied into replies (In-Reply-To,
 * References), stored as sourceID and used as the ledger key, so one with a CR, an LF or
 * anything else a header cannot carry is treated as absent (the header-hash key applies).
 */

/** RFC 5322 sets no limit; this keeps every folded References line far below 998. */
export const MAX_MESSAGE_ID_LENGTH = 250;

const MAX_TRACED = 10;

/** A Message-ID that was not used, for the trace ('' as value: the count of those left untraced). */
export interface UnusedId { header: 'Message-ID' | 'In-Reply-To' | 'References'; value: string; problem: string }

/**
 * Why `id` (without its angle brackets) is not a Message-ID m4me may use, or null when it is:
 * id-left "@" id-right in visible ASCII, without "<" or ">". Real mail has quoted id-lefts,
 * [literal] id-rights and several "@", so no finer grammar than that is asked.
 */
export function messageIdProblem(id: string): string | null {
  if (!id) return 'it is empty';
  if (id.length > MAX_MESSAGE_ID_LENGTH) return `it is longer than ${MAX_MESSAGE_ID_LENGTH} characters`;
  if (/[\x00-\x1f\x7f-\x9f]/.test(id)) return 'it contains control characters';
  if (/\s/.test(id)) return 'it contains whitespace';
  if (/[^\x21-\x7e]/.test(id)) return 'it contains characters other than visible ASCII';
  if (/[<>]/.test(id)) return 'it contains "<" or ">"';
  const at = id.lastIndexOf('@');
  if (at <= 0 || at === id.length - 1) return 'it is not id-left@id-right';
  return null;
}

export const isMessageId = (id: string): boolean => messageIdProblem(id) === null;

/** The usable IDs of a message's Message-ID, In-Reply-To and References, and what was left out. */
export function usableIds(messageId: string, inReplyTo: string[], references: string[]) {
  const unused: UnusedId[] = [];
  let more = 0;
  const keep = (header: UnusedId['header']) => (id: string) => {
    const problem = messageIdProblem(id);
    // A few are enough for the trace: a References header of junk must not make it huge.
    if (problem && unused.length < MAX_TRACED) unused.push({ header, value: id.slice(0, 80), problem });
    else if (problem) more++;
    return !problem;
  };
  const ids = {
    messageId: messageId && keep('Message-ID')(messageId) ? messageId : null,
    inReplyTo: inReplyTo.filter(keep('In-Reply-To')),
    references: references.filter(keep('References')),
    unusedIds: unused,
  };
  if (more) unused.push({ header: 'References', value: '', problem: `${more} more unusable IDs of In-Reply-To and References not used` });
  return ids;
}

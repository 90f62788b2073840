/**
 * "Processed once per inbound address": the inbound ledger's key for a message, and whether
 * the message was processed before (a duplicate) or must be decided (first time, a reused
 * Message-ID, or --reprocess of a rejection).
 */
import type { InboundEmail } from '../mail/types.js';
import type { InboundEntry } from '../store/schema.js';
import type { Trace } from './trace.js';
import type { Policy, StoreView } from './types.js';

/** The ledger key: a message is processed once per inbound address. */
export const ledgerKey = (messageKey: string, recipient: string) => `${messageKey} ${recipient}`;

/** Message-IDs the mail layer refused to use (controls, no @): said in the trace. */
export function traceUnusedIds(email: InboundEmail, trace: Trace): void {
  for (const u of email.unusedIds) {
    const why = u.header === 'Message-ID' ? '; the ledger key is a hash of the header block' : '';
    trace.add('mail.message_id', 'ignored', u.value ? `${u.header} ${JSON.stringify(u.value)} not used: ${u.problem}${why}` : u.problem);
  }
}

/**
 * The message's ledger key, and its earlier entry when this is a duplicate. A Message-ID
 * already in the ledger for this address with other content (another content hash) was
 * reused, by a stranger or a careless tool: that message is recorded under the key and its
 * content hash, so it can neither squat the ID nor be squatted. An entry without a hash (older
 * stores) is trusted. With --reprocess an entry that says rejected is decided again: the new
 * entry, appended, is the one a later lookup finds.
 */
export function checkLedger(email: InboundEmail, recipient: string, view: StoreView, policy: Policy, trace: Trace): { key: string; duplicate: InboundEntry | null } {
  const rule = 'duplicate.message';
  let key = ledgerKey(email.key, recipient);
  let seen = view.inbound(key);
  let reused: string | null = null;
  if (seen?.content_hash && seen.content_hash !== email.contentHash) {
    reused = `Message-ID ${email.messageId ?? email.key} reused: already processed for ${recipient} at ${seen.received_at} with other content (${seen.content_hash}, this one ${email.contentHash}); processed as a message of its own`;
    key = `${key} ${email.contentHash}`;
    seen = view.inbound(key);
  }
  if (seen && policy.reprocess && seen.outcome === 'rejected') {
    trace.add(rule, 'skipped', `rejected for ${recipient} at ${seen.received_at} (${seen.rule}): processed again (--reprocess)`);
    return { key, duplicate: null };
  }
  if (seen) {
    trace.add(rule, 'matched', `already processed for ${recipient} at ${seen.received_at}: ${seen.outcome}`);
    return { key, duplicate: seen };
  }
  trace.add(rule, 'not_matched', reused ?? `first time for ${recipient}`);
  return { key, duplicate: null };
}

import { RECORD_TYPES, type OtherRecord, type RecordRef, type RecordType, type Request } from '../store/schema.js';
import { mayAddNote, tooLongInFinalStatus } from './access.js';
import type { MessageContext } from './context.js';

export interface Match { rule: string; record: RecordRef }

type Candidate = { type: RecordType; record: Request | OtherRecord | undefined };

/**
 * "Adding a note to an existing record": the four matching options, in the spec's order.
 * A record found but refused (access, too long in its final status) is explained in the
 * trace and the search goes on; nothing found means a new request.
 */
export function findRecordForNote(ctx: MessageContext, source: { source?: string; sourceID?: string } | null): Match | null {
  const { email, account, trace } = ctx;
  if (!account.email_policy.allow_replies_as_notes) {
    trace.add('match.allow_replies', 'skipped', `'Allow replies to be added as notes' is off for ${account.id}`);
    return null;
  }
  // In-Reply-To first, then References from the newest back.
  const ids = [...new Set([...email.inReplyTo, ...[...email.references].reverse()])];
  return replyMatch(ctx, ids, NOTIFICATION_REPLY)
    ?? replyMatch(ctx, ids, THREAD_REPLY)
    ?? sourceMatch(ctx, source)
    ?? subjectIdMatch(ctx);
}

/** A reply: what a referenced Message-ID leads to (a notification m4me sent, a message of a request's thread). */
interface ReplyKind { rule: string; lookup(ctx: MessageContext, id: string): RecordRef | undefined; how: string; none: string }

const NOTIFICATION_REPLY: ReplyKind = {
  rule: 'match.notification_reply', lookup: (ctx, id) => ctx.view.notification(id)?.record,
  how: 'reply to notification', none: 'is a notification that may take a note',
};
const THREAD_REPLY: ReplyKind = {
  rule: 'match.thread_reply', lookup: (ctx, id) => ctx.view.requestOfMessage(id),
  how: 'thread of message', none: 'belongs to a request that may take a note',
};

function replyMatch(ctx: MessageContext, ids: string[], kind: ReplyKind): Match | null {
  const { rule } = kind;
  if (!ids.length) { ctx.trace.add(rule, 'not_matched', 'no In-Reply-To or References'); return null; }
  for (const id of ids) {
    const ref = kind.lookup(ctx, id);
    if (!ref) continue;
    const record = ctx.view.record(ref.type, ref.id);
    if (accept(ctx, rule, { type: ref.type, record }, `${kind.how} ${id}`)) return { rule, record: ref };
  }
  ctx.trace.add(rule, 'not_matched', `none of ${ids.length} referenced Message-IDs ${kind.none}`);
  return null;
}

function sourceMatch(ctx: MessageContext, p: { source?: string; sourceID?: string } | null): Match | null {
  const rule = 'match.source_sourceID';
  if (!p?.source || !p.sourceID) {
    ctx.trace.add(rule, 'not_matched', 'no #source and #sourceID parameters');
    return null;
  }
  for (const type of RECORD_TYPES) {
    for (const record of ctx.view.recordsBySource(type, p.source, p.sourceID)) {
      if (record.account !== ctx.account.id) continue;
      if (accept(ctx, rule, { type, record }, `source ${p.source}, sourceID ${p.sourceID}`)) {
        return { rule, record: { type, id: record.id } };
      }
    }
  }
  ctx.trace.add(rule, 'not_matched', `no record of ${ctx.account.id} with source ${p.source} and sourceID ${p.sourceID} may take a note`);
  return null;
}

/**
 * At least 6 digits, after nothing, whitespace or `#`, before nothing, whitespace or a word
 * break. No record ID starts with 0 or has more digits than an integer holds exactly, so
 * such numbers name nothing (Number() would read "0100002" as 100002).
 */
const SUBJECT_ID = /(?:^|(?<=[\s#]))(\d{6,})\b/g;

export function subjectIds(subject: string): number[] {
  return [...subject.matchAll(SUBJECT_ID)].map((m) => m[1]!).filter((d) => d[0] !== '0' && d.length <= 15).map(Number);
}

function subjectIdMatch(ctx: MessageContext): Match | null {
  const rule = 'match.subject_id';
  if (!ctx.account.email_policy.match_id_in_subject) {
    ctx.trace.add(rule, 'skipped', `'Match on ID when found in the email subject' is off for ${ctx.account.id}`);
    return null;
  }
  const ids = subjectIds(ctx.email.subject);
  for (const id of ids) {
    for (const type of RECORD_TYPES) {
      const record = ctx.view.record(type, id);
      if (!record || record.account !== ctx.account.id) continue;
      if (accept(ctx, rule, { type, record }, `ID ${id} in the subject`)) return { rule, record: { type, id } };
    }
  }
  ctx.trace.add(rule, 'not_matched', ids.length
    ? `no record of ${ctx.account.id} with ID ${ids.join(', ')} may take a note`
    : 'no number of 6 or more digits in the subject');
  return null;
}

/** The preconditions every matching option shares: access, and not too long in the final status. */
function accept(ctx: MessageContext, rule: string, c: Candidate, how: string): boolean {
  const { trace, sender, view, clock } = ctx;
  if (!c.record) {
    trace.add(rule, 'not_matched', `${how}: ${c.type} no longer exists`);
    return false;
  }
  const access = mayAddNote(sender, c.type, c.record, view);
  if (!access.ok) {
    trace.add('note.access', 'failed', `${how}: ${access.why}`);
    return false;
  }
  const closed = tooLongInFinalStatus(c.type, c.record, view, clock.now);
  if (closed) {
    trace.add('note.final_status', 'failed', `${how}: ${closed}`);
    return false;
  }
  trace.add(rule, 'matched', `${how} → ${c.type} ${c.record.id} (${access.why})`);
  return true;
}

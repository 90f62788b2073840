/**
 * The whole inbound-mail pipeline on one screen. `decide` is pure: the same message, store
 * view, policy and clock always give the same Decision, and nothing is read or written.
 *
 *   1. routing       which inbound address, which account or team          routing.ts
 *   2. duplicate     already processed for this address?                   (ledger)
 *   3. sender        bounces, X-4me-From override, then the Person         bounce.ts, from-override.ts, sender.ts
 *   4. parameters    #name: value lines, if the sender is a Specialist     parameters.ts
 *   5. matching      notification reply, thread, source/sourceID, subject  matching.ts
 *   6. defaults      the new request's fields                              defaults.ts
 *   7. events        event matching within 24 hours                        event-matching.ts
 *   8. create        the new request, its note and acknowledgement
 */
import type { InboundEmail } from '../mail/types.js';
import type { Person, RecordRef } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { mailSystemMessage } from './bounce.js';
import { buildRequest } from './defaults.js';
import { matchEvent } from './event-matching.js';
import { checkFromOverride } from './from-override.js';
import { findRecordForNote } from './matching.js';
import { buildNote, noteFiles } from './note.js';
import { readParameters } from './parameters.js';
import { acknowledgement, autoReplyAddress, emailRejected, replyFrom } from './replies.js';
import { chooseRecipient, route } from './routing.js';
import { findSender } from './sender.js';
import { isoTime, Trace } from './trace.js';
import type { Clock, Decision, Outcome, Policy, StoreView } from './types.js';

/** The ledger key: a message is processed once per inbound address. */
export const ledgerKey = (messageKey: string, recipient: string) => `${messageKey} ${recipient}`;

export function decide(email: InboundEmail, view: StoreView, policy: Policy, clock: Clock): Decision {
  const trace = new Trace(clock.tick);
  for (const u of email.unusedIds) {
    const why = u.header === 'Message-ID' ? '; the ledger key is a hash of the header block' : '';
    trace.add('mail.message_id', 'ignored', u.value ? `${u.header} ${JSON.stringify(u.value)} not used: ${u.problem}${why}` : u.problem);
  }
  const recipient = chooseRecipient(email, policy, view, trace);
  const ledger = ledgerEntry(email, recipient, view);
  const key = ledger.key;
  const domain = ownDomain(recipient, policy);

  const finish = (outcome: Outcome, rule: string, record: RecordRef | null, extra: Partial<Decision> = {}): Decision => ({
    outcome, rule, record, recipient, rejection: null, outgoing: [], notifications: [], files: [], ...extra,
    inbound: { key, message_id: email.messageId, recipient, received_at: isoTime(clock.now), outcome, rule, record, content_hash: email.contentHash },
    warnings: trace.warnings, trace: trace.entries, ...(trace.ms ? { traceMs: trace.ms } : {}),
  });
  const reject = (rule: string, reason: string, person?: Person): Decision => {
    const to = autoReplyAddress(email, policy, view, clock, trace);
    const outgoing = to ? [emailRejected(email, rule, to, replyFrom(recipient, domain), key, domain, clock)] : [];
    if (to) trace.add('reply.email_rejected', 'applied', `'Email Rejected' reply queued to ${to}`);
    return finish('rejected', rule, null, { rejection: { reason, template: 'email_rejected', to }, outgoing, ...(person ? { person } : {}) });
  };

  const { seen } = ledger;
  // --reprocess: a message rejected before (its sender not yet imported, new requests off) is
  // decided again; the new ledger entry, appended, is the one a later lookup finds.
  if (seen && policy.reprocess && seen.outcome === 'rejected') {
    trace.add('duplicate.message', 'skipped', `rejected for ${recipient} at ${seen.received_at} (${seen.rule}): processed again (--reprocess)`);
  } else if (seen) {
    trace.add('duplicate.message', 'matched', `already processed for ${recipient} at ${seen.received_at}: ${seen.outcome}`);
    return { ...finish('duplicate', 'duplicate.message', seen.record), inbound: undefined };
  } else {
    trace.add('duplicate.message', 'not_matched', ledger.reused ?? `first time for ${recipient}`);
  }

  const routing = route(recipient, policy, view, trace);
  if (!routing.ok) return reject(routing.rule, routing.reason);
  const { account, team } = routing;

  const bounce = mailSystemMessage(email, trace);
  if (bounce) return reject('reject.mail_system', `not a request: ${bounce}`);

  const override = checkFromOverride(email, account, policy, trace);
  if (override.use === 'reject') return reject('reject.from_override', `X-4me-From refused: ${override.reason}`);
  const address = override.use ? override.address : email.from?.address ?? '';
  const found = findSender(address, override.use ? '' : email.from?.name ?? '', account, view, trace);
  if (!found.ok) return reject('reject.unknown_sender', found.reason);
  const sender = found.person;
  const newPerson = found.created ? { person: sender } : {};

  const ctx: MessageContext = { email, view, policy, clock, trace, account, recipient, addressTeam: team, sender };
  const { honoured, params } = readParameters(ctx);
  const noteText = honoured ? email.text : email.fullText;
  const flags = { internal: params.internal, markdown: params.markdown };
  const parts = () => noteFiles(email, policy, trace);

  const match = findRecordForNote(ctx, honoured ? params : null);
  if (match) {
    const p = parts();
    const note = buildNote(view.nextNoteId(), match.record, sender.id, noteText, flags, email, p, clock);
    return finish('note_added', match.rule, match.record, { note, files: p.files, ...newPerson });
  }

  const request = buildRequest(ctx, params, view.nextRecordId());
  if (override.use && email.from) {
    // On behalf of someone else: the form's own sender, when it is a person, created it.
    const accounts = [account.id, account.directory_account];
    const creator = view.peopleByPrimaryEmail(email.from.address).find((p) => accounts.includes(p.account) && !p.disabled);
    if (creator) request.created_by = creator.id;
  }

  const event = matchEvent(ctx, request, noteText, params.ci !== undefined);
  if (event) {
    const record: RecordRef = { type: 'request', id: event.request.id };
    if (!event.addNote) return finish('unchanged', event.rule, record, newPerson);
    const p = parts();
    const note = buildNote(view.nextNoteId(), record, sender.id, noteText, flags, email, p, clock);
    return finish('note_added', event.rule, record, { note, files: p.files, ...newPerson });
  }

  const target = view.account(request.account) ?? account;
  if (!target.email_policy.allow_new_requests) {
    trace.add('create.allow_new_requests', 'failed', `'Allow inbound email to generate new requests' is off for ${target.id}`);
    return reject('reject.new_requests_disabled', `account ${target.id} does not accept new requests by email`, newPerson.person);
  }

  const record: RecordRef = { type: 'request', id: request.id };
  const p = parts();
  const note = noteText.trim() || p.attachments.length || p.inline_images.length
    ? buildNote(view.nextNoteId(), record, sender.id, noteText, flags, email, p, clock)
    : undefined;
  trace.add('create.new_request', 'applied', `request ${request.id} in ${request.account}: "${request.subject}"${note ? ' with a note' : ' (no body, no note)'}`);

  const extra: Partial<Decision> = { request, files: p.files, ...newPerson, ...(note ? { note } : {}) };
  if (policy.acknowledgements) {
    const ackTo = autoReplyAddress(email, policy, view, clock, trace, override.use ? sender.primary_email : undefined);
    if (ackTo) {
      const ack = acknowledgement(email, request, ackTo, replyFrom(recipient, domain), domain, clock);
      extra.outgoing = [ack];
      extra.notifications = [{ message_id: ack.messageId, record, to: ackTo, sent_at: ack.date }];
      trace.add('reply.acknowledgement', 'applied', `acknowledgement ${ack.messageId} queued to ${ackTo}`);
    }
  }
  return finish('request_created', 'create.new_request', record, extra);
}

/**
 * The message's ledger entry, if it was processed before. A Message-ID already in the ledger
 * for this address with other content (another content hash) was reused, by a stranger or a
 * careless tool: that message is recorded under the key and its content hash, so it can
 * neither squat the ID nor be squatted. An entry without a hash (older stores) is trusted.
 */
function ledgerEntry(email: InboundEmail, recipient: string, view: StoreView) {
  const key = ledgerKey(email.key, recipient);
  const seen = view.inbound(key);
  if (!seen?.content_hash || seen.content_hash === email.contentHash) return { key, seen, reused: null };
  const own = `${key} ${email.contentHash}`;
  return {
    key: own, seen: view.inbound(own),
    reused: `Message-ID ${email.messageId ?? email.key} reused: already processed for ${recipient} at ${seen.received_at} with other content (${seen.content_hash}, this one ${email.contentHash}); processed as a message of its own`,
  };
}

function ownDomain(recipient: string, policy: Policy): string {
  const d = recipient.slice(recipient.lastIndexOf('@') + 1);
  return policy.mailDomains.includes(d) ? d : policy.mailDomains[0] ?? 'localhost';
}

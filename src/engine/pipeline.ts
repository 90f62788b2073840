/**
 * The whole inbound-mail pipeline on one screen: the order of the rules, nothing else. `decide`
 * is pure: the same message, store view, policy and clock always give the same Decision, and
 * nothing is read or written. Each step lives in the module of its spec section.
 *
 *   1. routing       which inbound address, which account or team          routing.ts
 *   2. duplicate     already processed for this address?                   ledger.ts
 *   3. sender        bounces, X-4me-From override, then the Person         bounce.ts, from-override.ts, sender.ts
 *   4. parameters    #name: value lines, if the sender is a Specialist     parameters.ts
 *   5. matching      notification reply, thread, source/sourceID, subject  matching.ts
 *   6. defaults      the new request's fields                              defaults.ts
 *   7. events        event matching within 24 hours                        event-matching.ts
 *   8. create        'Allow new requests', the request, its note, the ack  create.ts, note.ts, replies.ts
 */
import type { InboundEmail } from '../mail/types.js';
import type { Person, RecordRef } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { mailSystemMessage } from './bounce.js';
import { createRequest } from './create.js';
import { buildRequest } from './defaults.js';
import { matchEvent } from './event-matching.js';
import { checkFromOverride, creatorOnBehalf } from './from-override.js';
import { checkLedger, traceUnusedIds } from './ledger.js';
import { findRecordForNote } from './matching.js';
import { noteFromMessage } from './note.js';
import { readParameters } from './parameters.js';
import { autoReplyAddress, emailRejected, replyFrom } from './replies.js';
import { chooseRecipient, route } from './routing.js';
import { inboundDomain } from './scope.js';
import { findSender } from './sender.js';
import { isoTime, Trace } from './trace.js';
import type { Clock, Decision, Outcome, Policy, StoreView } from './types.js';

export { ledgerKey } from './ledger.js';

export function decide(email: InboundEmail, view: StoreView, policy: Policy, clock: Clock): Decision {
  const trace = new Trace(clock.tick);
  traceUnusedIds(email, trace);
  const recipient = chooseRecipient(email, policy, view, trace);
  const domain = inboundDomain(recipient, policy) ?? policy.mailDomains[0] ?? 'localhost';
  const ledger = checkLedger(email, recipient, view, policy, trace);

  const finish = (outcome: Outcome, rule: string, record: RecordRef | null, extra: Partial<Decision> = {}): Decision => ({
    outcome, rule, record, recipient, rejection: null, outgoing: [], notifications: [], files: [], ...extra,
    inbound: { key: ledger.key, message_id: email.messageId, recipient, received_at: isoTime(clock.now), outcome, rule, record, content_hash: email.contentHash },
    warnings: trace.warnings, trace: trace.entries, ...(trace.ms ? { traceMs: trace.ms } : {}),
  });
  const reject = (rule: string, reason: string, person?: Person): Decision => {
    const to = autoReplyAddress(email, policy, view, clock, trace);
    const outgoing = to ? [emailRejected(email, rule, to, replyFrom(recipient, domain), ledger.key, domain, clock)] : [];
    if (to) trace.add('reply.email_rejected', 'applied', `'Email Rejected' reply queued to ${to}`);
    return finish('rejected', rule, null, { rejection: { reason, template: 'email_rejected', to }, outgoing, ...(person ? { person } : {}) });
  };
  if (ledger.duplicate) return { ...finish('duplicate', 'duplicate.message', ledger.duplicate.record), inbound: undefined };

  const routing = route(recipient, policy, view, trace);
  if (!routing.ok) return reject(routing.rule, routing.reason);
  const { account, team } = routing;

  const bounce = mailSystemMessage(email, trace);
  if (bounce) return reject('reject.mail_system', `not a request: ${bounce}`);

  const override = checkFromOverride(email, account, policy, trace);
  if (override.kind === 'reject') return reject('reject.from_override', `X-4me-From refused: ${override.reason}`);
  const onBehalf = override.kind === 'override';
  const address = onBehalf ? override.address : email.from?.address ?? '';
  const found = findSender(address, onBehalf ? '' : email.from?.name ?? '', account, view, trace);
  if (!found.ok) return reject('reject.unknown_sender', found.reason);
  const sender = found.person;
  const newPerson = found.created ? { person: sender } : {};

  const ctx: MessageContext = { email, view, policy, clock, trace, account, recipient, addressTeam: team, sender };
  const { honoured, params } = readParameters(ctx);
  const text = honoured ? email.text : email.fullText;
  const flags = { internal: params.internal, markdown: params.markdown };

  const match = findRecordForNote(ctx, honoured ? params : null);
  if (match) return finish('note_added', match.rule, match.record, { ...noteFromMessage(ctx, match.record, text, flags), ...newPerson });

  const request = buildRequest(ctx, params, view.nextRecordId());
  if (onBehalf) request.created_by = creatorOnBehalf(email, account, view) ?? request.created_by;

  const event = matchEvent(ctx, request, text, params.ci !== undefined);
  if (event) {
    const record: RecordRef = { type: 'request', id: event.request.id };
    if (!event.addNote) return finish('unchanged', event.rule, record, newPerson);
    return finish('note_added', event.rule, record, { ...noteFromMessage(ctx, record, text, flags), ...newPerson });
  }

  const created = createRequest(ctx, request, text, flags, onBehalf ? sender.primary_email : undefined, domain);
  if (!created.ok) return reject('reject.new_requests_disabled', created.reason, newPerson.person);
  return finish('request_created', 'create.new_request', { type: 'request', id: request.id }, { ...created.extra, ...newPerson });
}

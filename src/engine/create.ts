/**
 * "Creating a new request": 'Allow inbound email to generate new requests' of the request's
 * account, the request with its note (none for a message without text or files), and the
 * acknowledgement whose replies become notes on it.
 */
import type { Request } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { noteFromMessage } from './note.js';
import { acknowledgement, autoReplyAddress, replyFrom } from './replies.js';
import type { Decision } from './types.js';

export type Created = { ok: true; extra: Partial<Decision> } | { ok: false; reason: string };

export function createRequest(
  ctx: MessageContext, request: Request, text: string, flags: { internal: boolean; markdown: boolean },
  /** Who the acknowledgement goes to when not the From address (the X-4me-From person). */
  ackTo: string | undefined, domain: string,
): Created {
  const { email, view, policy, clock, trace, account, recipient } = ctx;
  const target = view.account(request.account) ?? account;
  if (!target.email_policy.allow_new_requests) {
    trace.add('create.allow_new_requests', 'failed', `'Allow inbound email to generate new requests' is off for ${target.id}`);
    return { ok: false, reason: `account ${target.id} does not accept new requests by email` };
  }
  const record = { type: 'request' as const, id: request.id };
  const { note, files } = noteFromMessage(ctx, record, text, flags, { skipEmpty: true });
  trace.add('create.new_request', 'applied', `request ${request.id} in ${request.account}: "${request.subject}"${note ? ' with a note' : ' (no body, no note)'}`);
  const extra: Partial<Decision> = { request, files, ...(note ? { note } : {}) };
  if (policy.acknowledgements) {
    const to = autoReplyAddress(email, policy, view, clock, trace, ackTo);
    if (to) {
      const ack = acknowledgement(email, request, to, replyFrom(recipient, domain), domain, clock);
      extra.outgoing = [ack];
      extra.notifications = [{ message_id: ack.messageId, record, to, sent_at: ack.date }];
      trace.add('reply.acknowledgement', 'applied', `acknowledgement ${ack.messageId} queued to ${to}`);
    }
  }
  return { ok: true, extra };
}

import { createHash } from 'node:crypto';
import type { InboundEmail } from '../mail/types.js';
import type { Request } from '../store/schema.js';
import { isoTime, type Trace } from './trace.js';
import type { Clock, OutgoingMail, Policy, StoreView } from './types.js';

/** Prefix of every Message-ID m4me writes: mail that carries one is our own, come back. */
export const OWN_ID_PREFIX = 'm4me.';

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

/**
 * RFC 3834 loop protection: whether an automatic reply may go to the sender of this mail.
 * Returns the address to reply to, or null with the reason in the trace.
 */
export function autoReplyAddress(
  email: InboundEmail, policy: Policy, view: StoreView, clock: Clock, trace: Trace,
  /** Who the reply goes to, when not the From address (the X-4me-From person). */
  recipient?: string,
): string | null {
  const rule = 'reply.loop_protection';
  const to = recipient ?? email.from?.address ?? '';
  const env = email.envelopeSender;
  const auto = email.headers.autoSubmitted?.trim().toLowerCase();
  const precedence = email.headers.precedence?.trim().toLowerCase();
  const suppress = email.headers.xAutoResponseSuppress?.toLowerCase() ?? '';
  const ownDomain = (a: string) => policy.mailDomains.includes(a.slice(a.lastIndexOf('@') + 1));
  const own = [email.messageId, ...email.inReplyTo, ...email.references]
    .find((id) => id?.startsWith(OWN_ID_PREFIX) && ownDomain(id));
  const why =
    !to ? 'the message has no From address'
    : env === '' || env === '<>' ? 'the envelope sender is null (a bounce)'
    : /^(mailer-daemon|postmaster)@/.test(to) || (env && /^(mailer-daemon|postmaster)(@|$)/.test(env)) ? `${to} is a mail system address`
    : auto && auto !== 'no' ? `Auto-Submitted: ${auto}`
    : precedence && ['bulk', 'junk', 'list'].includes(precedence) ? `Precedence: ${precedence}`
    : /\b(all|autoreply|oof)\b/.test(suppress) ? `X-Auto-Response-Suppress: ${email.headers.xAutoResponseSuppress}`
    : (email.headers.contentType ?? '').toLowerCase().startsWith('multipart/report') ? 'a delivery status notification'
    : ownDomain(to) ? `${to} is an inbound address of m4me itself`
    : own ? `it refers to m4me's own message ${own}`
    : view.autoRepliesTo(to, isoTime(clock.now).slice(0, 10)) >= policy.maxAutoRepliesPerDay
      ? `${to} already had ${policy.maxAutoRepliesPerDay} automatic replies today`
    : null;
  if (why) {
    trace.add(rule, 'skipped', `no automatic reply: ${why}`);
    return null;
  }
  return to;
}

function replyHeaders(email: InboundEmail) {
  const refs = [...email.references];
  if (email.messageId && !refs.includes(email.messageId)) refs.push(email.messageId);
  return { inReplyTo: email.messageId, references: refs };
}

/** The 'Email Rejected' reply. Its Message-ID comes from the ledger key, so a retry writes the same file. */
export function emailRejected(email: InboundEmail, to: string, from: string, reason: string, ledgerKey: string, domain: string, clock: Clock): OutgoingMail {
  return {
    kind: 'email_rejected',
    messageId: `${OWN_ID_PREFIX}rejected.${shortHash(ledgerKey)}@${domain}`,
    to, from,
    subject: `Email Rejected: ${email.subject || '(no subject)'}`,
    ...replyHeaders(email),
    text: [
      'Your email could not be processed and no request was registered.',
      '',
      `Reason: ${reason}`,
      '',
      `Subject: ${email.subject || '(no subject)'}`,
      ...(email.messageId ? [`Message-ID: <${email.messageId}>`] : []),
    ].join('\n'),
    date: isoTime(clock.now),
  };
}

/** The acknowledgement of a new request; a reply to it becomes a note on the request. */
export function acknowledgement(email: InboundEmail, request: Request, to: string, from: string, domain: string, clock: Clock): OutgoingMail {
  return {
    kind: 'acknowledgement',
    messageId: `${OWN_ID_PREFIX}notify.${request.id}.${shortHash(email.key)}@${domain}`,
    to, from,
    subject: `Request #${request.id} registered: ${request.subject || '(no subject)'}`,
    ...replyHeaders(email),
    text: [
      `Your request has been registered as request #${request.id}.`,
      '',
      `Subject: ${request.subject || '(no subject)'}`,
      '',
      'Reply to this email to add a note to the request.',
    ].join('\n'),
    date: isoTime(clock.now),
  };
}

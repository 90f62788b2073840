import { createHash } from 'node:crypto';
import { isAddrSpec, oneLine } from '../mail/header-values.js';
import type { InboundEmail } from '../mail/types.js';
import type { Request } from '../store/schema.js';
import { isoTime, type Trace } from './trace.js';
import type { Clock, OutgoingMail, Policy, StoreView } from './types.js';
import { inboundDomain } from './scope.js';

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
  if (policy.replies === 'none') {
    trace.add(rule, 'skipped', 'no automatic reply: this run writes none (--replies none)');
    return null;
  }
  const to = recipient ?? email.from?.address ?? '';
  const env = email.envelopeSender;
  const auto = email.headers.autoSubmitted?.trim().toLowerCase();
  const precedence = email.headers.precedence?.trim().toLowerCase();
  const suppress = email.headers.xAutoResponseSuppress?.toLowerCase() ?? '';
  const ownDomain = (a: string) => inboundDomain(a, policy) !== null;
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
    : !isAddrSpec(to) ? `${JSON.stringify(to.slice(0, 80))} is not an address a reply may go to`
    : view.autoRepliesTo(to, isoTime(clock.now).slice(0, 10)) >= policy.maxAutoRepliesPerDay
      ? `${to} already had ${policy.maxAutoRepliesPerDay} automatic replies today`
    : null;
  if (why) {
    trace.add(rule, 'skipped', `no automatic reply: ${why}`);
    return null;
  }
  return to;
}

/** A reply comes from the inbound address it answers, when that is a plain address of ours. */
export function replyFrom(recipient: string, domain: string): string {
  return recipient.endsWith(`@${domain}`) && isAddrSpec(recipient) ? recipient : `noreply@${domain}`;
}

function replyHeaders(email: InboundEmail) {
  const refs = [...email.references];
  if (email.messageId && !refs.includes(email.messageId)) refs.push(email.messageId);
  return { inReplyTo: email.messageId, references: refs };
}

/**
 * What the 'Email Rejected' reply tells the sender, in the spec's terms and nothing more: no
 * record or account ids, no names, and one text for every failed X-4me-From check, so the
 * reply is no oracle for the secret. The operator's reason stays in the trace and output.
 */
const PUBLIC_REASONS: Record<string, string> = {
  'reject.unknown_address': 'The address this email was sent to is not the email address of an account or of one of its teams.',
  'reject.directory_account': 'Email cannot be sent to a directory account, because requests cannot be stored in a directory account. ' +
    'Please send it to one of its support domain accounts, or to a team of one of these accounts.',
  'reject.mail_system': 'This email is a message of a mail system, not a request.',
  'reject.from_override': 'The X-4me-From header was not accepted: the X-4me-Auth value and the DMARC policy of the sending domain ' +
    'must both be satisfied to send an email on behalf of someone else.',
  'reject.unknown_sender': "The sender's email address does not belong to a person who may register requests in this account.",
  'reject.new_requests_disabled': "This account does not accept new requests by email ('Allow inbound email to generate new requests' is not checked).",
};

export function publicReason(rule: string): string {
  return Object.hasOwn(PUBLIC_REASONS, rule) ? PUBLIC_REASONS[rule]! : 'The email could not be processed.';
}

/** The 'Email Rejected' reply. Its Message-ID comes from the ledger key, so a retry writes the same file. */
export function emailRejected(email: InboundEmail, rule: string, to: string, from: string, ledgerKey: string, domain: string, clock: Clock): OutgoingMail {
  const subject = oneLine(email.subject) || '(no subject)';
  return {
    kind: 'email_rejected',
    messageId: `${OWN_ID_PREFIX}rejected.${shortHash(ledgerKey)}@${domain}`,
    to, from,
    subject: `Email Rejected: ${subject}`,
    ...replyHeaders(email),
    text: [
      'Your email could not be processed and no request was registered.',
      '',
      `Reason: ${publicReason(rule)}`,
      '',
      `Subject: ${subject}`,
      ...(email.messageId ? [`Message-ID: <${email.messageId}>`] : []),
    ].join('\n'),
    date: isoTime(clock.now),
  };
}

/** The acknowledgement of a new request; a reply to it becomes a note on the request. */
export function acknowledgement(email: InboundEmail, request: Request, to: string, from: string, domain: string, clock: Clock): OutgoingMail {
  const subject = oneLine(request.subject) || '(no subject)';
  return {
    kind: 'acknowledgement',
    messageId: `${OWN_ID_PREFIX}notify.${request.id}.${shortHash(email.key)}@${domain}`,
    to, from,
    subject: `Request #${request.id} registered: ${subject}`,
    ...replyHeaders(email),
    text: [
      `Your request has been registered as request #${request.id}.`,
      '',
      `Subject: ${subject}`,
      '',
      'Reply to this email to add a note to the request.',
    ].join('\n'),
    date: isoTime(clock.now),
  };
}

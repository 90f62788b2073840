import type { InboundEmail } from '../mail/types.js';
import type { Trace } from './trace.js';

/**
 * Mail from the mail system itself — a delivery status notification (RFC 3464
 * `multipart/report`), or a message from MAILER-DAEMON / a null envelope sender — is never
 * a request: a bounce of one of our replies would otherwise open a ticket, and could loop.
 */
export function mailSystemMessage(email: InboundEmail, trace: Trace): string | null {
  const rule = 'sender.mail_system';
  const type = (email.headers.contentType ?? '').toLowerCase();
  const from = email.from?.address ?? '';
  const env = email.envelopeSender;
  const why =
    type.startsWith('multipart/report') && /report-type\s*=\s*"?(delivery-status|disposition-notification)/.test(type)
      ? `a ${type.includes('disposition') ? 'read receipt' : 'delivery status notification'} (multipart/report)`
    : /^mailer-daemon@/.test(from) || (env !== null && /^mailer-daemon(@|$)/.test(env)) ? 'it comes from MAILER-DAEMON'
    : env === '' || env === '<>' ? 'the envelope sender is null (a bounce)'
    : null;
  trace.add(rule, why ? 'matched' : 'not_matched', why ? `not a request: ${why}` : 'not a message of the mail system');
  return why;
}

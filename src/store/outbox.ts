import type { OutgoingMail } from '../engine/types.js';

/** RFC 2047 B-encoding for a header value that is not plain ASCII. */
export function encodeHeader(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    if (Buffer.byteLength(chunk + ch) > 45) { words.push(chunk); chunk = ''; }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ');
}

function rfc5322Date(iso: string): string {
  return new Date(iso).toUTCString().replace('GMT', '+0000');
}

/** The outgoing message as RFC 5322 text (CRLF line ends), ready for `sendmail -t -i`. */
export function renderOutgoing(mail: OutgoingMail): string {
  const headers = [
    `From: ${mail.from}`,
    `To: ${mail.to}`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Date: ${rfc5322Date(mail.date)}`,
    `Message-ID: <${mail.messageId}>`,
    ...(mail.inReplyTo ? [`In-Reply-To: <${mail.inReplyTo}>`] : []),
    ...(mail.references.length ? [`References: ${mail.references.map((r) => `<${r}>`).join(' ')}`] : []),
    'Auto-Submitted: auto-replied',
    'X-Auto-Response-Suppress: All',
    `X-M4me-Kind: ${mail.kind}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = mail.text.replace(/\r?\n/g, '\r\n');
  return `${headers.join('\r\n')}\r\n\r\n${body}\r\n`;
}

/** A file name that is the same for the same message, so a retried delivery overwrites, never doubles. */
export function outboxFileName(mail: OutgoingMail): string {
  const stamp = mail.date.replace(/[^0-9]/g, '').slice(0, 14);
  const id = mail.messageId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  return `${stamp}-${mail.kind}-${id}.eml`;
}

import { closeSync, openSync, readSync } from 'node:fs';
import type { OutgoingMail } from '../engine/types.js';
import { addressField, bodyText, messageIdField, plainField, textField, UnsafeHeaderError } from './header-fields.js';

function rfc5322Date(iso: string): string {
  return new Date(iso).toUTCString().replace('GMT', '+0000');
}

/**
 * The outgoing message as RFC 5322 text (CRLF line ends), ready for `sendmail -t -i`. Every
 * header field is rendered by ./header-fields.ts, which lets nothing from mail break a line.
 */
export function renderOutgoing(mail: OutgoingMail): string {
  const headers = [
    addressField('From', mail.from),
    addressField('To', mail.to),
    textField('Subject', mail.subject),
    plainField('Date', rfc5322Date(mail.date)),
    messageIdField('Message-ID', [mail.messageId]) ?? unsafe('Message-ID'),
    messageIdField('In-Reply-To', [mail.inReplyTo]),
    messageIdField('References', mail.references),
    plainField('Auto-Submitted', 'auto-replied'),
    plainField('X-Auto-Response-Suppress', 'All'),
    plainField('X-M4me-Kind', mail.kind),
    plainField('MIME-Version', '1.0'),
    plainField('Content-Type', 'text/plain; charset=utf-8'),
    plainField('Content-Transfer-Encoding', '8bit'),
  ].filter((h): h is string => h !== null);
  return `${headers.join('\r\n')}\r\n\r\n${bodyText(mail.text)}\r\n`;
}

function unsafe(name: string): never {
  throw new UnsafeHeaderError(`${name}: not a valid Message-ID, the reply is not written`);
}

/** A file name that is the same for the same message, so a retried delivery overwrites, never doubles. */
export function outboxFileName(mail: OutgoingMail): string {
  const stamp = mail.date.replace(/[^0-9]/g, '').slice(0, 14);
  const id = mail.messageId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  return `${stamp}-${mail.kind}-${id}.eml`;
}

/** The Message-ID of an outbox file, from its header block (m4me writes it on one line). Throws when it cannot be read. */
export function outboxMessageId(path: string): string | null {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16384);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.toString('utf8', 0, n).split('\r\n\r\n', 1)[0] ?? '';
    return /^Message-ID: <([^>\r\n]+)>/im.exec(head)?.[1] ?? null;
  } finally {
    closeSync(fd);
  }
}

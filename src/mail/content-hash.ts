/**
 * A short hash of what a message says, for the inbound ledger: a Message-ID seen again with
 * other content was reused (anyone can write any Message-ID), not delivered again. The header
 * fields that each hop adds on the way (Received, Delivered-To, Return-Path, …) and an mbox
 * `From ` line are left out, line ends are normalised and trailing blank lines dropped, so the
 * same message from another hop, over CRLF or LF, hashes the same.
 */
import { createHash } from 'node:crypto';

/**
 * Fields written on the way, not by the sender: trace and delivery fields of MTAs and delivery
 * agents, spam and virus scanners, and the status fields mail programs add to an mbox (so an
 * archive replayed after the mail was delivered is its duplicate).
 */
const HOP_FIELDS = new Set([
  'received', 'x-received', 'delivered-to', 'x-delivered-to', 'x-original-to', 'return-path', 'envelope-to',
  'x-envelope-from', 'x-envelope-to', 'x-original-recipient', 'received-spf', 'authentication-results',
  'x-forwarded-to', 'x-forwarded-for', 'x-forwarded-encrypted', 'x-gm-message-state', 'x-google-smtp-source',
  'x-google-dkim-signature', 'status', 'x-status', 'x-keywords', 'x-uid', 'content-length', 'lines',
]);
const HOP_PREFIXES = ['arc-', 'x-spam', 'x-virus-', 'x-amavis-', 'x-rspamd-', 'x-ms-exchange-', 'x-mozilla-', 'x-getmail-'];

const isHopField = (name: string) => HOP_FIELDS.has(name) || HOP_PREFIXES.some((p) => name.startsWith(p));

/** 16 hex digits (64 bits) of SHA-256 over the header block without hop fields, and the body. */
export function contentHash(raw: Buffer, head: Buffer): string {
  const text = head.toString('latin1');
  let kept = '';
  let keep = true;
  for (let at = 0; at < text.length;) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const end = nl > at && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const c = text.charCodeAt(at);
    if (c !== 0x20 && c !== 0x09) { // a folded line goes with its field
      const colon = text.indexOf(':', at);
      const name = colon < 0 || colon > end ? '' : text.slice(at, colon).trim().toLowerCase();
      keep = !text.startsWith('From ', at) && !isHopField(name);
    }
    if (keep) kept += `${text.slice(at, end)}\n`;
    at = nl + 1;
  }
  let end = raw.length;
  while (end > head.length && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  const body = raw.subarray(head.length, end);
  return createHash('sha256').update(kept, 'latin1')
    .update(body.includes(0x0d) ? Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1') : body)
    .digest('hex').slice(0, 16);
}

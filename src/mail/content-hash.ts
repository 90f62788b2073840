/**
 * A short hash of what a message says, for the inbound ledger: a Message-ID seen again with
 * other content was reused (anyone can write any Message-ID), not delivered again. The header
 * fields that each hop adds on the way (Received, Delivered-To, Return-Path, …) and an mbox
 * `From ` line are left out, line ends are normalised and trailing blank lines dropped, so the
 * same message from another hop, over CRLF or LF, hashes the same.
 */
import { createHash } from 'node:crypto';

/** Trace and delivery fields written by MTAs and delivery agents, not by the sender. */
const HOP_FIELDS = new Set([
  'received', 'x-received', 'delivered-to', 'x-delivered-to', 'x-original-to', 'return-path', 'envelope-to',
  'x-envelope-from', 'x-envelope-to', 'x-original-recipient', 'received-spf', 'authentication-results',
  'x-ms-exchange-organization-authas', 'x-forwarded-to', 'x-forwarded-for', 'x-gm-message-state',
]);
const HOP_PREFIXES = ['arc-', 'x-spam-', 'x-virus-', 'x-amavis-', 'x-ms-exchange-'];

const isHopField = (name: string) => HOP_FIELDS.has(name) || HOP_PREFIXES.some((p) => name.startsWith(p));

/** 16 hex digits (64 bits) of SHA-256 over the header block without hop fields, and the body. */
export function contentHash(raw: Buffer, head: Buffer): string {
  const hash = createHash('sha256');
  let keep = true;
  for (const line of head.toString('latin1').split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.startsWith(' ') || l.startsWith('\t')) {
      if (keep) hash.update(`${l}\n`, 'latin1'); // a folded line goes with its field
      continue;
    }
    const colon = l.indexOf(':');
    keep = !l.startsWith('From ') && !isHopField((colon < 0 ? l : l.slice(0, colon)).trim().toLowerCase());
    if (keep) hash.update(`${l}\n`, 'latin1');
  }
  let end = raw.length;
  while (end > head.length && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  const body = raw.subarray(head.length, end);
  hash.update(body.includes(0x0d) ? Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1') : body);
  return hash.digest('hex').slice(0, 16);
}

import { createHash } from 'node:crypto';
import type { AddressObject, ParsedMail } from 'mailparser';
import { parseAuthResults } from './auth-results.js';
import { HEADER_FIELD, messageStart, utf8Headers } from './charset.js';
import { contentHash } from './content-hash.js';
import { displayName } from './filename.js';
import { htmlToText, imageMarker } from './html-text.js';
import { loadMailparser } from './mailparser.js';
import { usableIds } from './message-id.js';
import { splitParameters } from './parameters.js';
import { parseSinglePart } from './single-part.js';
import { insideAngles, tidy } from './text.js';
import type { Address, AttachmentPart, AuthResult, InboundEmail } from './types.js';

/** The message is not email at all (no header block): it is quarantined, never guessed at. */
export class UnreadableMessageError extends Error {}

// mailparser is loaded on first use, through ./mailparser.ts (its CommonJS build, the rarely
// needed parts deferred): a single delivery's start-up is mostly mailparser's.
function loadParser() {
  return loadMailparser().simpleParser;
}

export const SIMPLE_PARSER_OPTIONS = {
  skipTextToHtml: true, skipImageLinks: true, keepCidLinks: true, skipTextLinks: true,
  checksumAlgo: 'sha256', maxHtmlLengthToParse: 5 * 1024 * 1024,
} as const;

/** Parses raw bytes once into the plain value the engine works on. */
export async function parseEmail(raw: Buffer, envelopeSender?: string | null): Promise<InboundEmail> {
  const { head, input } = readable(raw);
  const mail = parseSinglePart(input);
  return mail ? toInboundEmail(mail, raw, head, envelopeSender ?? null) : mailparserEmail(raw, input, head, envelopeSender);
}

/**
 * The same value, at once, for a message that is one text/plain part (./single-part.ts);
 * null for any other message. Throws UnreadableMessageError as parseEmail does.
 */
export function parseSinglePartEmail(raw: Buffer, envelopeSender?: string | null): InboundEmail | null {
  const { head, input } = readable(raw);
  const mail = parseSinglePart(input);
  return mail && toInboundEmail(mail, raw, head, envelopeSender ?? null);
}

/** parseEmail without the single-part reading: every message through mailparser. */
export async function parseWithMailparser(raw: Buffer, envelopeSender?: string | null): Promise<InboundEmail> {
  const { head, input } = readable(raw);
  return mailparserEmail(raw, input, head, envelopeSender);
}

/**
 * The header block (from where the message starts: ./charset.ts messageStart) and the
 * message as both parse paths read it, its header bytes as UTF-8 (./charset.ts utf8Headers).
 */
function readable(raw: Buffer): { head: Buffer; input: Buffer } {
  const start = messageStart(raw);
  const head = headerBlock(start);
  if (!HEADER_FIELD.test(head.toString('latin1').split(/\r?\n/, 1)[0] ?? '')) {
    throw new UnreadableMessageError(raw.length === 0 ? 'empty message' : 'no header fields');
  }
  return { head, input: utf8Headers(start, head) };
}

/** `input` is `raw` with its header bytes as UTF-8 (utf8Headers). */
async function mailparserEmail(raw: Buffer, input: Buffer, head: Buffer, envelopeSender?: string | null): Promise<InboundEmail> {
  const simpleParser = loadParser();
  // A message that is one HTML part is converted below, with inline image markers and its
  // paragraphs known: mailparser's own conversion of it would be done for nothing.
  const htmlRoot = /^content-type:[ \t]*text\/html/im.test(head.toString('latin1'));
  const mail = await simpleParser(input, { ...SIMPLE_PARSER_OPTIONS, skipHtmlToText: htmlRoot });
  const email = toInboundEmail(mail, raw, head, envelopeSender ?? null);
  if (!mail.text?.trim() && typeof mail.html === 'string' && mail.html.trim()) {
    // HTML-only mail: our own conversion, so inline images leave a marker where they stood.
    const body = await htmlToText(mail.html, email.attachments);
    // Each <p> of a tool's HTML mail is a paragraph: blank lines between its parameter lines.
    const { parameters, text } = splitParameters(body, { blankLinesBetween: true });
    Object.assign(email, { parameters, ...tidied(text, body) });
    return email;
  }
  return withInlineMarkers(email);
}

/** A text part says nothing of where its inline images stood: their markers go at its end. */
function withInlineMarkers(email: InboundEmail): InboundEmail {
  const markers = email.attachments.filter((a) => a.inline).map(imageMarker).filter((m) => !email.fullText.includes(m));
  if (markers.length) {
    const tail = markers.join('\n');
    Object.assign(email, { text: email.text ? `${email.text}\n\n${tail}` : tail, fullText: email.fullText ? `${email.fullText}\n\n${tail}` : tail });
  }
  return email;
}

function headerBlock(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((n) => n >= 0);
  return ends.length ? raw.subarray(0, Math.min(...ends)) : raw;
}

function toInboundEmail(mail: ParsedMail, raw: Buffer, head: Buffer, envelopeSender: string | null): InboundEmail {
  const header = rawHeaders(mail);
  // A Message-ID with a CR, LF or other control is treated as absent: never a key, sourceID or header.
  const ids = usableIds(stripBrackets(mail.messageId ?? ''), messageIds(mail.inReplyTo), messageIds(mail.references));
  const messageId = ids.messageId;
  const body = mail.text ?? '';
  const { parameters, text } = splitParameters(body);
  const from = addresses(mail.from)[0] ?? null;
  // mailparser puts the time of parsing in place of a Date it cannot read: that is no date.
  const date = mail.date && !Number.isNaN(mail.date.getTime()) && header['date'] && !Number.isNaN(Date.parse(header['date'][0]!))
    ? mail.date.toISOString() : null;
  const html = typeof mail.html === 'string' ? mail.html : '';
  return {
    messageId,
    // Line ends normalised, so the same message from a CRLF and an LF hop gets the same key.
    key: messageId ?? `sha256:${createHash('sha256').update(head.toString('latin1').replace(/\r\n/g, '\n')).digest('hex')}`,
    contentHash: contentHash(raw, head),
    from,
    // Without an envelope from the MTA, the Return-Path its delivery agent wrote (`<>` for a bounce).
    envelopeSender: envelopeSender?.toLowerCase() ?? (header['return-path'] ? normaliseAddress(header['return-path'][0]!) : null),
    to: addresses(mail.to),
    cc: addresses(mail.cc),
    deliveredTo: (header['delivered-to'] ?? []).map(normaliseAddress).filter(Boolean),
    xOriginalTo: (header['x-original-to'] ?? []).map(normaliseAddress).filter(Boolean),
    subject: (mail.subject ?? '').replace(/\s+/g, ' ').trim(),
    date,
    inReplyTo: ids.inReplyTo,
    references: ids.references,
    unusedIds: ids.unusedIds,
    parameters,
    // Without a parameter block the two are one text: tidied once.
    ...tidied(text, body),
    attachments: mail.attachments.map((a): AttachmentPart => ({
      filename: a.filename ?? null,
      contentType: typeOf(a),
      size: a.size,
      content: a.content,
      sha256: a.checksum,
      ...uudecoded(a),
      contentId: a.cid ?? null,
      inline: typeOf(a).startsWith('image/') &&
        ((a.related ?? false) || a.contentDisposition === 'inline' || (!!a.cid && html.includes(`cid:${a.cid}`))),
    })),
    authResults: (header['authentication-results'] ?? []).map(parseAuthResults).filter((r): r is AuthResult => !!r),
    headers: {
      autoSubmitted: first(header['auto-submitted']),
      precedence: first(header['precedence']),
      xAutoResponseSuppress: first(header['x-auto-response-suppress']),
      x4meFrom: first(header['x-4me-from']),
      x4meAuth: first(header['x-4me-auth']),
      contentType: first(header['content-type']),
    },
    size: raw.length,
  };
}

function tidied(text: string, body: string): { text: string; fullText: string } {
  const fullText = tidy(body);
  return { text: text === body ? fullText : tidy(text), fullText };
}

/** An empty `Content-Type:` header leaves mailparser's contentType `false`. */
const typeOf = (a: ParsedMail['attachments'][number]): string =>
  (typeof a.contentType === 'string' && a.contentType) || 'application/octet-stream';

/**
 * mailparser passes a `Content-Transfer-Encoding: x-uuencode` part through undecoded: decode
 * it here (content, size, sha256, and the name of its `begin` line when the part has none).
 */
function uudecoded(a: ParsedMail['attachments'][number]): Partial<AttachmentPart> {
  const cte = String(a.headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  if (!/^(x-)?uu(e|encode)?$/.test(cte)) return {};
  const lines = a.content.toString('latin1').split(/\r?\n/);
  // The `begin` line may be missing (some senders drop it): then every line must look uuencoded.
  const begin = lines.findIndex((l) => /^begin [0-7]{3,4} /.test(l));
  const start = begin >= 0 ? begin + 1 : lines.findIndex((l) => l.trim() !== '');
  if (start < 0) return {};
  const out: number[] = [];
  for (const line of lines.slice(start)) {
    const n = (line.charCodeAt(0) - 32) & 63;
    if (!line || line === 'end' || n === 0) break;
    if (begin < 0 && !/^[\x20-\x60]+$/.test(line)) return {};
    const v = (i: number) => ((line.charCodeAt(i) || 32) - 32) & 63;
    for (let i = 1, left = n; left > 0; i += 4, left -= 3) {
      const bytes = [(v(i) << 2) | (v(i + 1) >> 4), ((v(i + 1) & 15) << 4) | (v(i + 2) >> 2), ((v(i + 2) & 3) << 6) | v(i + 3)];
      out.push(...bytes.slice(0, Math.min(3, left)));
    }
  }
  if (begin < 0 && !out.length) return {};
  const content = Buffer.from(out);
  const name = begin < 0 ? '' : lines[begin]!.replace(/^begin [0-7]{3,4} /, '').trim();
  return {
    content, size: content.length, sha256: createHash('sha256').update(content).digest('hex'),
    ...(a.filename ? {} : { filename: name || null }),
  };
}

/** Unfolded raw values of every header line, by lower-case name. */
function rawHeaders(mail: ParsedMail): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null); // a field may be named `constructor`
  for (const { key, line } of mail.headerLines) {
    const value = line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
    (out[key] ??= []).push(value);
  }
  return out;
}

const first = (values: string[] | undefined): string | null => values?.[0] ?? null;

export function normaliseAddress(value: string): string {
  return (insideAngles(value) ?? value).trim().toLowerCase();
}

function addresses(field: AddressObject | AddressObject[] | undefined): Address[] {
  const out: Address[] = [];
  const visit = (list: AddressObject['value']) => {
    for (const a of list) {
      if (a.group) visit(a.group);
      else if (a.address) out.push({ address: a.address.trim().toLowerCase(), name: a.name ?? '' });
    }
  };
  for (const obj of field === undefined ? [] : Array.isArray(field) ? field : [field]) visit(obj.value);
  return out;
}

function stripBrackets(id: string): string {
  return id.trim().replace(/^<|>$/g, '').trim();
}

function messageIds(value: string | string[] | undefined): string[] {
  const joined = Array.isArray(value) ? value.join(' ') : value ?? '';
  const ids = [...joined.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1]!);
  if (ids.length) return ids;
  return joined.split(/[\s,]+/).map(stripBrackets).filter(Boolean);
}

export { parseAuthResults };

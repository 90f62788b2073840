/**
 * Most mail a service desk receives is one text/plain part in UTF-8 or ASCII. mailparser takes
 * about a quarter of a millisecond for such a message, nearly all of it in its stream
 * machinery (a splitter, decoders and setImmediate hops between them), for what is a header
 * block and the bytes after it. This reads such a message with mailparser's own pieces, in one
 * synchronous step: mailsplit's MimeNode reads the header block (content type, charset,
 * transfer encoding, format=flowed), MailParser's processHeaders decodes the header fields
 * (addresses, encoded words, Message-IDs), libqp decodes quoted-printable. The text is then
 * what mailparser's text part handling makes of those bytes.
 *
 * Anything else (multipart, another content type, an attachment disposition, base64, another
 * charset, format=flowed, a header block near mailsplit's size limit) gets `null` and goes
 * through mailparser whole. test/mail/single-part.test.ts holds the result equal to
 * mailparser's for every such message of the corpus and for generated ones.
 */
import { createRequire } from 'node:module';
import type { ParsedMail } from 'mailparser';
import { loadMailparser, requireFromMailparser } from './mailparser.js';

interface HeaderLine { key: string; line: string }
interface MimeNodeLike {
  addHeaderChunk(line: Buffer): boolean;
  parseHeaders(): void;
  headers: { lines: HeaderLine[]; getList(): HeaderLine[] };
  multipart: string | false;
  contentType: string | false;
  charset: string | false;
  encoding: string | false;
  disposition: string | false;
  filename: string | false;
  flowed: boolean;
}
interface Parts {
  MimeNode: new (parent: false | null, config: object) => MimeNodeLike;
  processHeaders(lines: HeaderLine[]): Map<string, unknown>;
  decodeQp(input: string): Buffer;
}

let parts: Parts | null | undefined;

/** mailparser's pieces, resolved as mailparser resolves them; null if the layout is not as expected. */
function load(): Parts | null {
  if (parts !== undefined) return parts;
  try {
    const { require: mpRequire } = loadMailparser();
    const fromMailsplit = createRequire(requireFromMailparser(mpRequire).resolve('@zone-eu/mailsplit'));
    const MimeNode = fromMailsplit('./lib/mime-node.js') as Parts['MimeNode'];
    const libqp = fromMailsplit('libqp') as { decode(s: string): Buffer };
    const { MailParser } = mpRequire('mailparser') as { MailParser: new (o: object) => { processHeaders(l: HeaderLine[]): Map<string, unknown> } };
    // processHeaders reads nothing of the parser's state but its libmime and helper methods.
    const parser = new MailParser({});
    if (typeof MimeNode !== 'function' || typeof parser.processHeaders !== 'function' || typeof libqp.decode !== 'function') throw new Error('layout');
    parts = { MimeNode, processHeaders: (l) => parser.processHeaders(l), decodeQp: (s) => libqp.decode(s) };
  } catch {
    parts = null;
  }
  return parts;
}

/** The header fields the InboundEmail is made of, and their names on simpleParser's result. */
const FIELDS = new Map([
  ['from', 'from'], ['to', 'to'], ['cc', 'cc'], ['subject', 'subject'], ['date', 'date'],
  ['message-id', 'messageId'], ['in-reply-to', 'inReplyTo'], ['references', 'references'],
]);
/** Charsets mailparser takes as they are (it transcodes every other one through a stream). */
const AS_IS_CHARSET = new Set(['ascii', 'usascii', 'utf8']);
/** Well below mailsplit's 1 MiB head limit, where its line cost accounting would matter. */
const MAX_HEADER_BYTES = 256 << 10;
const MAX_HEADER_LINES = 2048;

/** The message as simpleParser gives it, or null when it is not a single text/plain part. */
export function parseSinglePart(raw: Buffer): ParsedMail | null {
  if (process.env.M4ME_NO_FAST_PARSE) return null;
  // The header block is every line up to the first empty one ("\n" or "\r\n"), as mailsplit reads it.
  let end = -1;
  let lines = 0;
  for (let i = 0; i < raw.length; ) {
    const nl = raw.indexOf(0x0a, i);
    if (nl < 0) break;
    if (nl === i || (nl === i + 1 && raw[i] === 0x0d)) { end = nl + 1; break; }
    if (++lines > MAX_HEADER_LINES || nl > MAX_HEADER_BYTES) return null;
    i = nl + 1;
  }
  if (end < 0) return null; // no body at all: rare, left to mailparser
  const p = load();
  if (!p) return null;
  const node = new p.MimeNode(null, {});
  node.addHeaderChunk(raw.subarray(0, end));
  node.parseHeaders();
  const charset = String(node.charset || 'utf-8').toLowerCase().replace(/[^a-z0-9]+/g, '');
  if (node.multipart || node.contentType !== 'text/plain' || node.filename || node.flowed ||
    (node.disposition && node.disposition !== 'inline') || node.encoding === 'base64' || !AS_IS_CHARSET.has(charset)) {
    return null;
  }
  // Only the fields the InboundEmail is made of are decoded (each line is decoded on its own,
  // so their values are the ones decoding every line gives); the rest is read from headerLines.
  const headers = p.processHeaders(node.headers.getList().filter((l) => FIELDS.has(l.key)));
  let body = raw.subarray(end);
  if (node.encoding === 'quoted-printable') body = p.decodeQp(body.toString('binary'));
  // What /\r?\n/g gives, without replacing each of a million bare \n by itself (0.25 s a MB).
  const text = body.toString().replace(/\r\n/g, '\n');
  const mail: Record<string, unknown> = { attachments: [], headers, headerLines: node.headers.lines };
  for (const [key, name] of FIELDS) if (headers.has(key)) mail[name] = headers.get(key);
  if (text) mail.text = text;
  return mail as unknown as ParsedMail;
}

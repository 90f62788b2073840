/**
 * The one place outgoing header fields are rendered. The engine already left out what mail
 * made unusable; this is the second line of defence: every field is built from checked
 * tokens, so no CR or LF can reach a header, lines are folded at 78 characters and never
 * exceed 998 (RFC 5322 §2.1.1), and non-ASCII text is RFC 2047-encoded.
 */
import { isAddrSpec, oneLine } from '../mail/header-values.js';
import { isMessageId } from '../mail/message-id.js';

/** A value that cannot be made safe for a header field the reply cannot go without. */
export class UnsafeHeaderError extends Error {}

const LINE = 78;

/** `Name: token token …`, folded between tokens; no token holds whitespace or a control. */
function fold(name: string, tokens: string[]): string {
  const lines: string[] = [];
  let line = `${name}:`;
  for (const t of tokens) {
    if (line.length + 1 + t.length > LINE && line.length > name.length + 1) { lines.push(line); line = ''; }
    line += ` ${t}`;
  }
  return [...lines, line].join('\r\n');
}

/** From, To: exactly one plain addr-spec, or the reply is not written. */
export function addressField(name: string, address: string): string {
  if (!isAddrSpec(address)) throw new UnsafeHeaderError(`${name}: not a plain email address, the reply is not written`);
  return fold(name, [address]);
}

/** Message-ID, In-Reply-To, References: IDs that are not id-left@id-right are dropped; null when none is left. */
export function messageIdField(name: string, ids: readonly (string | null)[]): string | null {
  const ok = ids.filter((id): id is string => !!id && isMessageId(id));
  return ok.length ? fold(name, ok.map((id) => `<${id}>`)) : null;
}

/** Fixed values of m4me's own (Date, MIME headers): visible ASCII and spaces only. */
export function plainField(name: string, value: string): string {
  if (!/^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/.test(value)) throw new UnsafeHeaderError(`${name}: not plain ASCII`);
  return fold(name, value.split(' '));
}

/**
 * Unstructured text (Subject): controls dropped, folded at spaces when it is plain ASCII
 * that folds; else RFC 2047 B-encoded words of at most 64 characters, one a line.
 */
export function textField(name: string, text: string): string {
  const value = oneLine(text, 400);
  const words = value.split(' ').filter(Boolean);
  // "=?" would be decoded by the reader as an encoded word of the attacker's making.
  const plain = /^[\x20-\x7e]*$/.test(value) && !value.includes('=?') && words.every((w) => w.length <= LINE - name.length - 2);
  return fold(name, plain ? words : encodedWords(value));
}

/** UTF-8 B-encoded words of at most 39 bytes of text each, never splitting a character. */
export function encodedWords(value: string): string[] {
  const words: string[] = [];
  let chunk = '';
  for (const ch of value) {
    if (Buffer.byteLength(chunk + ch) > 39) { words.push(chunk); chunk = ''; }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`);
}

/** A text/plain body: CRLF line ends only, no other control but TAB, no line over 998 bytes. */
export function bodyText(text: string): string {
  const lines = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').split(/\r\n|\r|\n/);
  return lines.flatMap((l) => {
    const out: string[] = [];
    let rest = l;
    // 300 characters are at most 1,200 bytes of UTF-8: cut by characters well below 998 bytes.
    while (Buffer.byteLength(rest) > 998) { const cut = [...rest].slice(0, 240).join(''); out.push(cut); rest = rest.slice(cut.length); }
    return [...out, rest];
  }).join('\r\n');
}

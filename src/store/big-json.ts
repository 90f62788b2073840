/**
 * Reads a JSON document too large to be one string (V8 caps a string at about 512 MB):
 * the top-level object is scanned in the bytes, and each element of its arrays, and every
 * other value, is parsed on its own. The result is what JSON.parse would give.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function fail(at: number, what: string): never {
  throw new SyntaxError(`${what} at byte ${at}`);
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i]!)) i++;
  return i;
}

/** The end (exclusive) of the string starting at the quote at `i`. */
function stringEnd(buf: Buffer, i: number): number {
  for (let j = i + 1; j < buf.length; j++) {
    const b = buf[j]!;
    if (b === BACKSLASH) j++;
    else if (b === QUOTE) return j + 1;
  }
  return fail(i, 'unterminated string');
}

/** The end (exclusive) of the value starting at `i` (structure only; JSON.parse checks the rest). */
function valueEnd(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b === QUOTE) return stringEnd(buf, i);
  if (b === 0x7b || b === 0x5b) {
    let depth = 0;
    for (let j = i; j < buf.length; j++) {
      const c = buf[j]!;
      if (c === QUOTE) j = stringEnd(buf, j) - 1;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) { if (--depth === 0) return j + 1; }
    }
    return fail(i, 'unterminated value');
  }
  let j = i;
  while (j < buf.length && !isSpace(buf[j]!) && buf[j] !== 0x2c && buf[j] !== 0x7d && buf[j] !== 0x5d) j++;
  return j > i ? j : fail(i, 'value expected');
}

/** As JSON.parse sets a key: `__proto__` too is an own property, never the prototype. */
const set = (o: Record<string, unknown>, key: string, value: unknown) =>
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });

const parseRange = (buf: Buffer, start: number, end: number): unknown => JSON.parse(buf.toString('utf8', start, end));

export function parseLargeDocument(buf: Buffer): unknown {
  let i = skipSpace(buf, 0);
  if (buf[i] !== 0x7b) return parseRange(buf, i, buf.length); // not an object: small, or an error
  const out: Record<string, unknown> = {};
  i = skipSpace(buf, i + 1);
  if (buf[i] === 0x7d) return out;
  for (;;) {
    if (buf[i] !== QUOTE) fail(i, 'key expected');
    const keyEnd = stringEnd(buf, i);
    const key = parseRange(buf, i, keyEnd) as string;
    i = skipSpace(buf, keyEnd);
    if (buf[i] !== 0x3a) fail(i, '":" expected');
    i = skipSpace(buf, i + 1);
    if (buf[i] === 0x5b) {
      const rows: unknown[] = [];
      i = skipSpace(buf, i + 1);
      if (buf[i] !== 0x5d) {
        for (;;) {
          const end = valueEnd(buf, i);
          rows.push(parseRange(buf, i, end));
          i = skipSpace(buf, end);
          if (buf[i] === 0x5d) break;
          if (buf[i] !== 0x2c) fail(i, '"," or "]" expected');
          i = skipSpace(buf, i + 1);
        }
      }
      set(out, key, rows);
      i = skipSpace(buf, i + 1);
    } else {
      const end = valueEnd(buf, i);
      set(out, key, parseRange(buf, i, end));
      i = skipSpace(buf, end);
    }
    if (buf[i] === 0x7d) break;
    if (buf[i] !== 0x2c) fail(i, '"," or "}" expected');
    i = skipSpace(buf, i + 1);
  }
  if (skipSpace(buf, i + 1) !== buf.length) fail(i + 1, 'unexpected data after the document');
  return out;
}

/** JSON.parse of a file's bytes, of any size. */
export function parseJsonBytes(bytes: Buffer): unknown {
  return bytes.length < MAX_STRING_BYTES ? JSON.parse(bytes.toString('utf8')) : parseLargeDocument(bytes);
}

/** A document at least this large cannot be one string (V8's limit, in UTF-16 units ≤ bytes). */
export const MAX_STRING_BYTES = 0x1fffffe8;

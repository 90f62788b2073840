/**
 * Text helpers for hostile input, each linear in its input: no regex here may backtrack
 * over text from mail (`/[ \t]+$/gm` re-scans a run of spaces from each of its positions,
 * so 'a' + 120,000 spaces + 'b' took 95 s).
 */

const isBlank = (c: number) => c === 0x20 || c === 0x09;
/** What String.prototype.trim() removes (JS WhiteSpace and LineTerminator, `\s`). */
export const isSpace = (c: number): boolean =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
/** JS line terminators: where `$` of a /m regex matches. */
const isLineEnd = (c: number) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/** Trailing spaces and tabs off every line, runs of blank lines collapsed, ends trimmed. */
export function tidy(text: string): string {
  // /\r\n?/g → '\n', by splitting: a regex replace costs ~0.2 us a match, a million of them here.
  const s = text.includes('\r') ? text.split('\r\n').join('\n').split('\r').join('\n') : text;
  // U+2028/U+2029 end a line for `$` of the /m regex this replaces: rare, so looked for once.
  const next = s.includes('\u2028') || s.includes('\u2029') ? nextLineEnd : (t: string, from: number) => t.indexOf('\n', from);
  let out = '';
  let keptFrom = 0;
  for (let start = 0; ;) {
    const nl = next(s, start);
    const lineEnd = nl < 0 ? s.length : nl;
    let end = lineEnd;
    while (end > start && isBlank(s.charCodeAt(end - 1))) end--;
    if (end < lineEnd) { out += s.slice(keptFrom, end); keptFrom = lineEnd; }
    if (nl < 0) break;
    start = nl + 1;
  }
  out += s.slice(keptFrom);
  // `\n{3,}` matches each run of newlines once, from its first one: linear.
  return out.replace(/\n{3,}/g, '\n\n').trim();
}

function nextLineEnd(s: string, from: number): number {
  for (let i = from; i < s.length; i++) if (isLineEnd(s.charCodeAt(i))) return i;
  return -1;
}

/** What `/<([^>]*)>/` captures, without its scan from every '<' to the end: null if no match. */
export function insideAngles(value: string): string | null {
  const lt = value.indexOf('<');
  if (lt < 0) return null;
  const gt = value.indexOf('>', lt + 1);
  return gt < 0 ? null : value.slice(lt + 1, gt);
}

/** True if the text holds a line terminator (what `.` of a regex does not match). */
export function hasLineEnd(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isLineEnd(text.charCodeAt(i))) return true;
  return false;
}

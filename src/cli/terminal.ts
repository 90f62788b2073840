/**
 * Text from mail as a terminal may show it: C0 and C1 controls (ESC, CSI, BEL, CR, …), DEL
 * and bidi formatting characters are printed as escapes (`\x1b`, `\r`, `\u202e`), so a
 * subject cannot retitle or clear the operator's terminal or reorder what it shows. TAB stays.
 */
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => {
  if (c === '\r') return '\\r';
  if (c === '\n') return '\\n';
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

export function printable(text: string): string {
  return text.replace(UNSAFE, escape);
}

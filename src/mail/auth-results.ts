/**
 * Authentication-Results (RFC 8601 §2.2), read by its grammar in one pass:
 *
 *   authres-payload = [CFWS] authserv-id [CFWS authres-version] (no-result / 1*resinfo) [CFWS]
 *   resinfo         = [CFWS] ";" methodspec [CFWS reasonspec] [CFWS 1*propspec]
 *   methodspec      = [CFWS] method [CFWS] "=" [CFWS] result      method = Keyword ["/" version]
 *
 * Comments nest and hold quoted-pairs; a quoted string is one value. Neither can hold a `;`
 * that separates results or a `method=result`: `spf=pass (x (dmarc=pass) y)
 * smtp.mailfrom="a; dmarc=pass"` has no dmarc result. A header that does not parse (an
 * unclosed comment or quoted string) says nothing at all.
 */
import type { AuthResult } from './types.js';

interface Token { text: string; quoted: boolean }

/** The payload as `;`-separated lists of tokens (words, quoted strings, `=` and `/`); null when malformed. */
function tokenize(value: string): Token[][] | null {
  const segments: Token[][] = [[]];
  let word = '';
  const flush = () => {
    if (word) segments[segments.length - 1]!.push({ text: word, quoted: false });
    word = '';
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '(') {
      flush();
      let depth = 1;
      while (depth > 0 && ++i < value.length) {
        const d = value[i];
        if (d === '\\') i++;
        else if (d === '(') depth++;
        else if (d === ')') depth--;
      }
      if (depth > 0) return null;
    } else if (c === '"') {
      flush();
      let s = '';
      for (i++; i < value.length && value[i] !== '"'; i++) s += value[i] === '\\' ? value[++i] ?? '' : value[i];
      if (i >= value.length) return null;
      segments[segments.length - 1]!.push({ text: s, quoted: true });
    } else if (c === ';') {
      flush();
      segments.push([]);
    } else if (c === '=' || c === '/') {
      flush();
      segments[segments.length - 1]!.push({ text: c, quoted: false });
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      flush();
    } else {
      word += c;
    }
  }
  flush();
  return segments;
}

const KEYWORD = /^[A-Za-z0-9](?:[A-Za-z0-9-_]*[A-Za-z0-9])?$/;
const isKeyword = (t: Token | undefined): t is Token => !!t && !t.quoted && KEYWORD.test(t.text);

export function parseAuthResults(value: string): AuthResult | null {
  const segments = tokenize(value);
  const id = segments?.[0]![0];
  if (!segments || !id || (!id.quoted && (id.text === '=' || id.text === '/')) || !id.text) return null;
  const results: Record<string, string> = Object.create(null);
  for (const seg of segments.slice(1)) {
    // method [ "/" version ] "=" result
    let at = 0;
    const method = seg[at++];
    if (!isKeyword(method)) continue;
    if (seg[at]?.text === '/' && !seg[at]!.quoted) at += 2;
    if (seg[at]?.text !== '=' || seg[at]!.quoted) continue;
    const result = seg[at + 1];
    if (!isKeyword(result)) continue;
    // A method given twice (dmarc=fail …; dmarc=pass …) keeps the other result: a pass never outvotes it.
    const m = method.text.toLowerCase();
    if ((results[m] ?? 'pass') === 'pass') results[m] = result.text.toLowerCase();
  }
  return { authservId: id.text.toLowerCase(), results };
}

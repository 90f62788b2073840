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
  const segments: Token[][] = [];
  let tokens: Token[] = [];
  let word = -1; // where the word being read starts
  // A methodspec is at most the first 5 tokens of its resinfo (method / version = result): no more are kept.
  const add = (text: string, quoted: boolean) => { if (tokens.length < 5) tokens.push({ text, quoted }); };
  const flush = (i: number) => {
    if (word >= 0 && tokens.length < 5) add(value.slice(word, i), false);
    word = -1;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x28) { // ( … ): nested comments, quoted-pairs inside
      flush(i);
      let depth = 1;
      while (depth > 0 && ++i < value.length) {
        const d = value.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x28) depth++;
        else if (d === 0x29) depth--;
      }
      if (depth > 0) return null;
    } else if (c === 0x22) { // " … ": one value, quoted-pairs unescaped
      flush(i);
      // Only a quoted authserv-id is ever read; any other quoted value is skipped.
      const read = segments.length === 0 && tokens.length === 0;
      const parts: string[] = [];
      let from = ++i;
      for (; i < value.length && value.charCodeAt(i) !== 0x22; i++) {
        if (value.charCodeAt(i) !== 0x5c) continue;
        if (read) parts.push(value.slice(from, i));
        from = ++i;
      }
      if (i >= value.length) return null;
      parts.push(value.slice(from, i));
      add(read ? parts.join('') : '', true);
    } else if (c === 0x3b) { // ;
      flush(i);
      segments.push(tokens);
      tokens = [];
    } else if (c === 0x3d || c === 0x2f) { // = /
      flush(i);
      add(value[i]!, false);
    } else if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      flush(i);
    } else if (word < 0) {
      word = i;
    }
  }
  flush(value.length);
  segments.push(tokens);
  return segments;
}

const KEYWORD = /^[A-Za-z0-9](?:[A-Za-z0-9-_]*[A-Za-z0-9])?$/;
const isKeyword = (t: Token | undefined): t is Token => !!t && !t.quoted && KEYWORD.test(t.text);

export function parseAuthResults(value: string): AuthResult | null {
  const segments = tokenize(value);
  // authserv-id [version]: anything else there (Exchange Online writes `spf=none …` with no id) names no server.
  const [id, version, ...more] = segments?.[0] ?? [];
  if (!segments || !id?.text || more.length || (version && !/^\d+$/.test(version.text))) return null;
  if (!id.quoted && (id.text === '=' || id.text === '/')) return null;
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

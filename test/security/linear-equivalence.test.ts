/**
 * The linear rewrites give exactly what the regexes they replace gave (the old code is kept
 * here as the reference), on generated text made of the characters those regexes care about.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { splitParameters } from '../../src/mail/parameters.js';
import { insideAngles, tidy } from '../../src/mail/text.js';

const oldTidy = (text: string) => text.replace(/\r\n?/g, '\n').replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n').trim();

// The grammar as it stands: a name may start with `_` (`#__proto__` is a parameter line, warned about as unknown).
const PARAMETER = /^#([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[ \t]*(.*?))?[ \t]*$/;
const QUALIFIER = /^(.*?)\s+@([A-Za-z0-9][A-Za-z0-9_.-]*)$/;
const QUALIFIABLE = new Set(['ci', 'team', 'member', 'problem_id']);
/** splitParameters as it was (names not normalised: the rewrite did not touch that). */
function oldSplit(body: string, opts: { blankLinesBetween?: boolean } = {}) {
  const lines = body.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  const parameters: { name: string; value: string; account: string | null; line: string }[] = [];
  for (; i < lines.length; i++) {
    if (opts.blankLinesBetween && parameters.length && lines[i]!.trim() === '') {
      let j = i;
      while (j < lines.length && lines[j]!.trim() === '') j++;
      if (j < lines.length && PARAMETER.test(lines[j]!.trim())) i = j;
    }
    const line = lines[i]!;
    const m = PARAMETER.exec(line.trim());
    if (!m) break;
    const name = m[1]!.toLowerCase();
    let value = (m[2] ?? '').trim();
    let account: string | null = null;
    const q = QUALIFIABLE.has(name) ? QUALIFIER.exec(value) : null;
    if (q) { value = q[1]!.trim(); account = q[2]!; }
    parameters.push({ name, value, account, line: line.trim() });
  }
  if (parameters.length === 0) return { parameters, text: body };
  if (i < lines.length && lines[i]!.trim() === '') i++;
  return { parameters, text: lines.slice(i).join('\n') };
}

/** Text of the characters that matter, in runs, so that lines, blanks and names occur. */
const textOf = (tokens: string[]) => fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((a) => a.join(''));
const TIDY_TOKENS = [' ', '  ', '\t', '\n', '\r', '\r\n', '\n\n\n', 'a', 'b c', '\u00a0', '\u2028', '\u2029', '\ufeff', '\v', '\f'];
const PARAM_TOKENS = ['#', '#ci', '#team', '#Member', '#problem_id', '#x_1', '#1', ':', ': ', ' ', '\t', '\n', '\r\n', '\r', '\n\n',
  '@', ' @', ' @acc', '@a.b-c_d', ' @-x', 'v', 'a b', '\u00a0', '\u2028', '\u3000', '.', '-', '_', 'x@y.example'];

describe('the linear rewrites read as the regexes did', () => {
  test('tidy', () => {
    fc.assert(fc.property(textOf(TIDY_TOKENS), (s) => { expect(tidy(s)).toBe(oldTidy(s)); }), { numRuns: 3000, seed: 20261203 });
  });

  test('splitParameters (names, values, @account qualifiers, the text after the block)', () => {
    fc.assert(fc.property(textOf(PARAM_TOKENS), fc.boolean(), (s, between) => {
      const opts = { blankLinesBetween: between };
      const got = splitParameters(s, opts);
      const want = oldSplit(s, opts);
      expect({ ...got, parameters: got.parameters.map((p) => ({ ...p, name: p.name.toLowerCase() })) })
        .toEqual({ ...want, parameters: want.parameters.map((p) => ({ ...p, name: p.name.toLowerCase() })) });
    }), { numRuns: 5000, seed: 20261203 });
  });

  test('insideAngles', () => {
    fc.assert(fc.property(textOf(['<', '>', 'a', '@', ' ', '<a@b>', '"']), (s) => {
      expect(insideAngles(s)).toBe(/<([^>]*)>/.exec(s)?.[1] ?? null);
    }), { numRuns: 3000, seed: 20261203 });
  });
});

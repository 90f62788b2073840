import { hasLineEnd, isSpace } from './text.js';
import type { ParameterLine } from './types.js';

// `#name: value` or `#shortcut` (`#__proto__` too: an unknown parameter, warned about); a value may end in ` @account_id` (whitespace before the @,
// so that an email address value such as `#member: a@b.example` is not taken for one).
// Read by scanning, not by one pattern: `(.*?)[ \t]*$` and `(.*?)\s+@` backtrack over every
// run of spaces (quadratic: a 60 KB parameter line took 40 s). Both regexes left are
// anchored character classes that cannot backtrack.
const NAME = /^#([A-Za-z_][A-Za-z0-9_]*)/;
const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SPACE = /\s/;

/** `#name[ \t]*` alone, or followed by `:` and a value on the same line; null otherwise. */
function readParameter(line: string): { name: string; value: string } | null {
  const m = NAME.exec(line);
  if (!m) return null;
  let i = m[0].length;
  while (line[i] === ' ' || line[i] === '\t') i++;
  if (i === line.length) return { name: m[1]!, value: '' };
  if (line[i] !== ':') return null;
  const value = line.slice(i + 1);
  return hasLineEnd(value) ? null : { name: m[1]!, value: value.trim() };
}

/** `value @account` (whitespace before the last @, an account id after it), or null. */
function qualifier(value: string): { value: string; account: string } | null {
  const at = value.lastIndexOf('@');
  if (at < 1 || !SPACE.test(value[at - 1]!)) return null;
  const account = value.slice(at + 1);
  return ACCOUNT.test(account) ? { value: value.slice(0, at).trim(), account } : null;
}
/** Parameters that name a record, the only ones a trailing `@account` qualifies. */
const QUALIFIABLE = new Set([
  'ci', 'ci_id', 'ci_source', 'ci_sourceID', 'service_instance', 'service_instance_id', 'team', 'team_id',
  'member', 'member_id', 'requested_for', 'requested_for_id', 'supplier', 'supplier_id', 'problem_id',
  'workflow_id', 'template_id',
]);
const KEEP_CASE = new Map([['sourceid', 'sourceID'], ['ci_sourceid', 'ci_sourceID'], ['supplier_requestid', 'supplier_requestID']]);

function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.startsWith('custom_field_')) return `custom_field_${name.slice('custom_field_'.length)}`;
  return KEEP_CASE.get(lower) ?? lower;
}

/**
 * Splits the parameter block off the top of a body. Parameters run from the first line
 * (leading blank lines skipped) to the first blank line or the first line that is not a
 * parameter; the blank line that ends the block is dropped with it.
 */
export function splitParameters(body: string, opts: { blankLinesBetween?: boolean } = {}): { parameters: ParameterLine[]; text: string } {
  // The lines of body.split(/\r?\n/), read one at a time: the block is at the top, so a long
  // body is not cut into lines it does not need.
  const lineAt = (at: number) => {
    const nl = body.indexOf('\n', at);
    if (nl < 0) return { line: body.slice(at), next: -1 };
    return { line: body.slice(at, nl > at && body[nl - 1] === '\r' ? nl - 1 : nl), next: nl + 1 };
  };
  let at = 0; // where the current line starts; -1 past the last one
  // Leading blank lines skipped without cutting them out.
  for (let i = 0; i < body.length && isSpace(body.charCodeAt(i)); i++) if (body.charCodeAt(i) === 0x0a) at = i + 1;
  let cur = lineAt(at);
  const advance = () => { at = cur.next; if (at >= 0) cur = lineAt(at); };
  while (at >= 0 && cur.line.trim() === '') advance();
  const parameters: ParameterLine[] = [];
  for (; at >= 0; advance()) {
    if (opts.blankLinesBetween && parameters.length && cur.line.trim() === '') {
      // Text converted from HTML: a blank line ends the block only when no parameter follows it.
      let jAt = at;
      let j = cur;
      while (jAt >= 0 && j.line.trim() === '') { jAt = j.next; if (jAt >= 0) j = lineAt(jAt); }
      if (jAt >= 0 && readParameter(j.line.trim())) { at = jAt; cur = j; }
    }
    const line = cur.line.trim();
    const p = readParameter(line);
    if (!p) break;
    const name = normaliseName(p.name);
    // Elsewhere (a custom field, a sourceID, free text) ' @x' is part of the value.
    const q = QUALIFIABLE.has(name) ? qualifier(p.value) : null;
    parameters.push({ name, value: q ? q.value : p.value, account: q ? q.account : null, line });
  }
  if (parameters.length === 0) return { parameters, text: body };
  if (at >= 0 && cur.line.trim() === '') advance();
  // What joining the remaining lines with '\n' gives.
  return { parameters, text: at < 0 ? '' : body.slice(at).replace(/\r\n/g, '\n') };
}

import type { ParameterLine } from './types.js';

// `#name: value` or `#shortcut` (`#__proto__` too: an unknown parameter, warned about); a value may end in ` @account_id` (whitespace before the @,
// so that an email address value such as `#member: a@b.example` is not taken for one).
const PARAMETER = /^#([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[ \t]*(.*?))?[ \t]*$/;
const QUALIFIER = /^(.*?)\s+@([A-Za-z0-9][A-Za-z0-9_.-]*)$/;
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
  const lines = body.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  const parameters: ParameterLine[] = [];
  for (; i < lines.length; i++) {
    if (opts.blankLinesBetween && parameters.length && lines[i]!.trim() === '') {
      // Text converted from HTML: a blank line ends the block only when no parameter follows it.
      let j = i;
      while (j < lines.length && lines[j]!.trim() === '') j++;
      if (j < lines.length && PARAMETER.test(lines[j]!.trim())) i = j;
    }
    const line = lines[i]!;
    const m = PARAMETER.exec(line.trim());
    if (!m) break;
    const name = normaliseName(m[1]!);
    let value = (m[2] ?? '').trim();
    let account: string | null = null;
    // Elsewhere (a custom field, a sourceID, free text) ' @x' is part of the value.
    const q = QUALIFIABLE.has(name) ? QUALIFIER.exec(value) : null;
    if (q) { value = q[1]!.trim(); account = q[2]!; }
    parameters.push({ name, value, account, line: line.trim() });
  }
  if (parameters.length === 0) return { parameters, text: body };
  if (i < lines.length && lines[i]!.trim() === '') i++;
  return { parameters, text: lines.slice(i).join('\n') };
}

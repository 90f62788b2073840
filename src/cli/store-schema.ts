/**
 * CONTRACT §3 as a JSON Schema (../store/store-schema.ts), for `m4me check-config`: every
 * element of every collection is checked with ajv and each problem reported with its JSON
 * path. Extra fields and collections are allowed (the contract lets others add them). A
 * delivery checks only the reference collections against the same schema, without ajv
 * (../store/validate.ts), so it does not pay for the size of the store.
 */
import type { ErrorObject } from 'ajv';
import { STORE_SCHEMA } from '../store/store-schema.js';

export { STORE_SCHEMA };

/** Problems with their JSON path, and a hint where one helps; at most `max` of them. */
export async function storeSchemaProblems(data: unknown, max = 50): Promise<string[]> {
  const { default: Ajv } = await import('ajv');
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  const validate = ajv.compile(STORE_SCHEMA);
  if (validate(data)) return [];
  const errors = (validate.errors ?? []) as ErrorObject[];
  const lines = errors.slice(0, max).map((e) => {
    const path = e.instancePath || '(top level)';
    if (e.keyword === 'pattern' && String(e.params.pattern).startsWith('^\\d{4}')) {
      return `${path}: must be an ISO 8601 time with offset, e.g. 2026-03-02T09:00:00+00:00`;
    }
    return `${path}: ${e.message}${e.keyword === 'enum' ? ` (${(e.params.allowedValues as string[]).join(', ')})` : ''}`;
  });
  if (errors.length > max) lines.push(`… and ${errors.length - max} more`);
  return lines;
}

/** Referential checks the schema cannot express: duplicate IDs, and references to nothing. */
export function storeReferenceProblems(data: Record<string, { id?: unknown; account?: unknown }[]>): string[] {
  const problems: string[] = [];
  const accounts = new Set((data.accounts ?? []).map((a) => a.id));
  const seen = new Map<unknown, string>();
  for (const c of ['requests', 'problems', 'releases', 'workflows', 'workflow_tasks', 'projects', 'project_tasks']) {
    (data[c] ?? []).forEach((r, i) => {
      if (seen.has(r.id)) problems.push(`/${c}/${i}: ID ${String(r.id)} is also used by ${seen.get(r.id)} (record IDs must be unique across types)`);
      else seen.set(r.id, `${c}`);
      if (!accounts.has(r.account)) problems.push(`/${c}/${i}: account ${String(r.account)} does not exist`);
    });
  }
  const people = new Set<unknown>();
  (data.people ?? []).forEach((p, i) => {
    if (people.has(p.id)) problems.push(`/people/${i}: person ID ${String(p.id)} is used twice`);
    people.add(p.id);
    if (!accounts.has(p.account)) problems.push(`/people/${i}: account ${String(p.account)} does not exist`);
  });
  return problems.slice(0, 50);
}

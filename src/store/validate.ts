/**
 * The part of JSON Schema that STORE_SCHEMA uses (type, required, properties, items,
 * additionalProperties, anyOf, enum, pattern, minimum), for a delivery: it checks the
 * reference collections a message is decided by against the same schema check-config gives
 * ajv, without loading ajv (tens of ms a delivery). Problems read as ajv's do:
 * `/accounts/0/email_policy/from_auth_secrets: must be array`.
 */
import { STORE_SCHEMA } from './store-schema.js';

interface Schema {
  type?: string | readonly string[];
  required?: readonly string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  anyOf?: readonly Schema[];
  enum?: readonly unknown[];
  pattern?: string;
  minimum?: number;
}

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
const isType = (v: unknown, t: string) => { const a = typeOf(v); return a === t || (t === 'number' && a === 'integer'); };
const patterns = new Map<string, RegExp>();

function check(v: unknown, s: Schema, path: string, out: string[], max: number): void {
  if (out.length >= max) return;
  if (s.anyOf) {
    if (!s.anyOf.some((alt) => { const o: string[] = []; check(v, alt, path, o, 1); return !o.length; })) out.push(`${path}: must match a schema in anyOf`);
    return;
  }
  if (s.type !== undefined) {
    const types = typeof s.type === 'string' ? [s.type] : s.type;
    if (!types.some((t) => isType(v, t))) { out.push(`${path}: must be ${types.join(',')}`); return; }
  }
  if (s.enum && !s.enum.includes(v)) out.push(`${path}: must be equal to one of the allowed values (${s.enum.join(', ')})`);
  if (typeof v === 'string' && s.pattern) {
    let re = patterns.get(s.pattern);
    if (!re) patterns.set(s.pattern, re = new RegExp(s.pattern, 'u'));
    if (!re.test(v)) out.push(`${path}: must match pattern "${s.pattern}"`);
  }
  if (typeof v === 'number' && s.minimum !== undefined && v < s.minimum) out.push(`${path}: must be >= ${s.minimum}`);
  if (Array.isArray(v)) {
    if (s.items) for (let i = 0; i < v.length && out.length < max; i++) check(v[i], s.items, `${path}/${i}`, out, max);
    return;
  }
  if (typeof v !== 'object' || v === null) return;
  const o = v as Record<string, unknown>;
  for (const r of s.required ?? []) if (!Object.hasOwn(o, r)) out.push(`${path}: must have required property '${r}'`);
  for (const [key, value] of Object.entries(o)) {
    const sub = s.properties && Object.hasOwn(s.properties, key) ? s.properties[key] : s.additionalProperties;
    if (sub) check(value, sub, `${path}/${key}`, out, max);
  }
}

/** Problems of one collection's rows against STORE_SCHEMA, at most `max`. */
export function collectionProblems(name: string, rows: readonly unknown[], max = 10): string[] {
  const props = STORE_SCHEMA.properties as Record<string, Schema>;
  const schema = Object.hasOwn(props, name) ? props[name]! : undefined;
  const out: string[] = [];
  if (schema) check(rows, schema, `/${name}`, out, max);
  return out;
}

/**
 * The part of JSON Schema that STORE_SCHEMA uses (type, required, properties, items,
 * additionalProperties, anyOf, enum, pattern, minimum), for a delivery: it checks the
 * reference collections a message is decided by against the same schema check-config gives
 * ajv, without loading ajv (tens of ms a delivery). Problems read as ajv's do:
 * `/accounts/0/email_policy/from_auth_secrets: must be array`. Each collection's schema is
 * compiled once into nested checks: about 0.06 ms for the demo store's reference data and
 * 6 ms for 10,000 people (a generic walk of the schema took 2-3 times that).
 */
import { STORE_SCHEMA } from './store-schema.js';

export interface Schema {
  type?: string | readonly string[];
  required?: readonly string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  /** A schema for the other keys, or false: no other keys. */
  additionalProperties?: Schema | boolean;
  propertyNames?: Schema;
  anyOf?: readonly Schema[];
  enum?: readonly unknown[];
  pattern?: string;
  minimum?: number;
  minLength?: number;
  minItems?: number;
  description?: string;
}

/** One problem, as ajv reports it: where (a JSON pointer), which keyword, and ajv's message. */
export interface Problem { at: string; keyword: string; message: string; value: unknown; key?: string }

type Check = (v: unknown, at: (string | number)[], out: Problem[], max: number) => void;

const TYPE_TESTS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string', boolean: (v) => typeof v === 'boolean', null: (v) => v === null,
  integer: (v) => Number.isInteger(v), number: (v) => typeof v === 'number',
  array: (v) => Array.isArray(v), object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
};

/** `at` is the JSON path as a stack of segments, joined only when a problem is reported. */
const path = (at: (string | number)[]) => `/${at.join('/')}`;

/** The schema compiled once into nested checks (a few µs a person, not a generic walk). */
function compile(s: Schema): Check {
  if (s.anyOf) {
    const alts = s.anyOf.map(compile);
    return (v, at, out, max) => {
      const tried = alts.map((alt) => { const o: Problem[] = []; alt(v, at, o, max); return o; });
      if (tried.some((o) => !o.length)) return;
      // The branch the value is of (a list, or not a list) says what is wrong with it.
      const here = path(at);
      const fits = tried.filter((o) => !o.some((p) => p.keyword === 'type' && p.at === here));
      if (fits.length === 1) out.push(...fits[0]!);
      else out.push({ at: here, keyword: 'anyOf', message: 'must match a schema in anyOf', value: v });
    };
  }
  const steps: Check[] = [];
  const types = s.type === undefined ? null : typeof s.type === 'string' ? [s.type] : [...s.type];
  const tests = types?.map((t) => TYPE_TESTS[t]!);
  const re = s.pattern ? new RegExp(s.pattern, 'u') : null;
  const problem = (out: Problem[], at: (string | number)[], keyword: string, message: string, value: unknown) => out.push({ at: path(at), keyword, message, value });
  if (s.enum) steps.push((v, at, out) => { if (!s.enum!.includes(v)) problem(out, at, 'enum', `must be equal to one of the allowed values (${s.enum!.join(', ')})`, v); });
  if (re) steps.push((v, at, out) => { if (typeof v === 'string' && !re.test(v)) problem(out, at, 'pattern', `must match pattern "${s.pattern}"`, v); });
  if (s.minimum !== undefined) steps.push((v, at, out) => { if (typeof v === 'number' && v < s.minimum!) problem(out, at, 'minimum', `must be >= ${s.minimum}`, v); });
  if (s.minLength !== undefined) steps.push((v, at, out) => { if (typeof v === 'string' && v.length < s.minLength!) problem(out, at, 'minLength', `must NOT have fewer than ${s.minLength} characters`, v); });
  if (s.minItems !== undefined) steps.push((v, at, out) => { if (Array.isArray(v) && v.length < s.minItems!) problem(out, at, 'minItems', `must NOT have fewer than ${s.minItems} items`, v); });
  if (s.items) {
    const item = compile(s.items);
    steps.push((v, at, out, max) => {
      if (!Array.isArray(v)) return;
      for (let i = 0; i < v.length && out.length < max; i++) { at.push(i); item(v[i], at, out, max); at.pop(); }
    });
  }
  if (s.required || s.properties || s.additionalProperties !== undefined || s.propertyNames) {
    const props = new Map(Object.entries(s.properties ?? {}).map(([k, sub]) => [k, compile(sub)]));
    const rest = typeof s.additionalProperties === 'object' ? compile(s.additionalProperties) : null;
    const closed = s.additionalProperties === false;
    const names = s.propertyNames ? compile(s.propertyNames) : null;
    const required = s.required ?? [];
    steps.push((v, at, out, max) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return;
      const o = v as Record<string, unknown>;
      for (const r of required) if (!Object.hasOwn(o, r)) problem(out, at, 'required', `must have required property '${r}'`, undefined);
      for (const key of Object.keys(o)) {
        if (out.length >= max) return;
        if (names) {
          const bad: Problem[] = [];
          names(key, at, bad, 1);
          if (bad.length) out.push({ at: path(at), keyword: 'propertyNames', message: 'property name must be valid', value: key, key });
        }
        const sub = props.get(key) ?? rest;
        at.push(key);
        if (sub) sub(o[key], at, out, max);
        else if (closed && !props.has(key)) problem(out, at, 'additionalProperties', 'must NOT have additional properties', o[key]);
        at.pop();
      }
    });
  }
  return (v, at, out, max) => {
    if (out.length >= max) return;
    if (tests && !tests.some((t) => t(v))) { problem(out, at, 'type', `must be ${types!.join(',')}`, v); return; }
    for (const step of steps) step(v, at, out, max);
  };
}

const compiled = new Map<object, Check>();
const compiledOnce = (s: Schema) => {
  let check = compiled.get(s);
  if (!check) compiled.set(s, check = compile(s));
  return check;
};

/** Problems of `value` against `schema` (the subset of JSON Schema above), at most `max`. */
export function schemaProblems(schema: Schema, value: unknown, max = 50): Problem[] {
  const out: Problem[] = [];
  compiledOnce(schema)(value, [], out, max);
  return out;
}

/** Problems of one collection's rows against STORE_SCHEMA, at most `max`. */
export function collectionProblems(name: string, rows: readonly unknown[], max = 10): string[] {
  const props = STORE_SCHEMA.properties as Record<string, Schema>;
  if (!Object.hasOwn(props, name)) return [];
  const out: Problem[] = [];
  compiledOnce(props[name]!)(rows, [name], out, max);
  return out.map((p) => `${p.at}: ${p.message}`);
}

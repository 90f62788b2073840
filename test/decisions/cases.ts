/**
 * The decision cases (cases/*.json beside their .eml) and what each must give: shared by the
 * JSON store's run (decisions.test.ts) and the PostgreSQL store's (test/pg/decisions.test.ts).
 */
import { expect } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Result } from '../../src/cli/result.js';
import type { StoreData } from '../../src/store/schema.js';
import { demoStoreFile, jsonLines, readStore, type Run } from '../helpers/cli.js';

export const CASES = join(dirname(fileURLToPath(import.meta.url)), 'cases');

export type Patch = { path: string; value: unknown } | { push: string; value: unknown };
export interface Case {
  title: string;
  eml: string;
  args?: string[];
  env?: Record<string, string>;
  store?: Patch[];
  expect: {
    outcome: string; rule: string; record: unknown;
    request?: Record<string, unknown>; note?: Record<string, unknown>; person?: Record<string, unknown>;
    rejection?: Record<string, unknown>; no_note?: boolean;
    warnings?: string[]; trace?: [string, string][];
  };
}

/** `requests[id=100004].completed_at` → sets that field of that element. */
export function applyPatch(data: StoreData, patch: Patch): void {
  if ('push' in patch) { (data[patch.push] as unknown[]).push(patch.value); return; }
  const m = /^(\w+)\[id=([^\]]+)\]\.(.+)$/.exec(patch.path);
  if (!m) throw new Error(`bad patch path ${patch.path}`);
  const item = (data[m[1]!] as { id: unknown }[]).find((x) => String(x.id) === m[2]);
  if (!item) throw new Error(`no ${m[1]} with id ${m[2]}`);
  const keys = m[3]!.split('.');
  let target = item as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys[keys.length - 1]!] = patch.value;
}

export const CONFIG = {
  mailDomain: ['mail.4me.com', 'mail.r-service.tech'],
  aliases: { 'helpdesk@widget.example': 'widget-it@mail.4me.com' },
  trustedAuthservIds: ['mx.widget.example'],
};

const names = readdirSync(CASES).filter((f) => f.endsWith('.json')).sort();
export const cases = names.map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(CASES, f), 'utf8')) as Case] as const);

/** Checks one case's run (exit, stderr, its one JSON line) and the store it left against the case. */
export function checkDecision(spec: Case, run: Run, store: StoreData): void {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = jsonLines(run.stdout);
  expect(lines).toHaveLength(1);
  const r = lines[0] as Result & Record<string, unknown>;
  const want = spec.expect;
  expect({ outcome: r.outcome, rule: r.rule, record: r.record }).toEqual({ outcome: want.outcome, rule: want.rule, record: want.record });

  if (want.request) {
    expect(r.request).toMatchObject(want.request);
    // The output shows the request exactly as stored.
    expect(store.requests.find((q) => q.id === (r.request as { id: number }).id)).toEqual(r.request);
  }
  if (want.note) {
    expect(r.note).toMatchObject(want.note);
    expect(store.notes.find((n) => n.id === (r.note as { id: number }).id)).toEqual(r.note);
  }
  if (want.no_note) expect(r.note).toBeUndefined();
  if (want.person) expect(store.people.find((p) => p.id === want.person!.id)).toMatchObject(want.person);
  if (want.rejection) expect(r.rejection).toMatchObject(want.rejection);
  for (const w of want.warnings ?? []) expect(r.warnings.some((x) => x.includes(w))).toBe(true);
  if (!want.warnings) expect(r.warnings.filter((w) => !w.startsWith('--clock'))).toEqual([]);
  for (const [rule, result] of want.trace ?? []) {
    expect(r.trace).toContainEqual(expect.objectContaining({ rule, result }));
  }
  // Every message is in the ledger, once.
  expect(store.inbound.filter((e) => e.message_id === r.message_id && e.recipient === r.recipient)).toHaveLength(1);
  // A rejection creates nothing; anything else leaves no outcome unexplained.
  if (r.outcome === 'rejected') expect(store.requests.length).toBe(readStore(demoStoreFile()).requests.length + (spec.store?.filter((p) => 'push' in p && p.push === 'requests').length ?? 0));
}

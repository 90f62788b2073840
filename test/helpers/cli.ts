import { test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Result } from '../../src/cli/result.js';
import { demoStore } from '../../src/store/demo.js';
import { applyToData, readWithJournal } from '../../src/store/journal.js';
import { isPgUrl } from '../../src/store/pg/url.js';
import type { StoreData } from '../../src/store/schema.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'm4me.js');
export const CORPUS = resolve(ROOT, '..', 'shared', 'corpus');
/** The instant the demo data is replayed at. */
export const DEMO_NOW = '2026-03-02T09:00:00+00:00';

export interface Run { code: number; stdout: string; stderr: string }

/**
 * The folder of each PostgreSQL store a test made (test/helpers/stores.ts): the site's
 * folder, where its configuration, outbox and quarantine are (CONTRACT §7: a URL store's
 * outbox and quarantine are beside the configuration, or the working folder without one).
 */
export const STORE_FOLDERS = new Map<string, string>();

/**
 * Runs the built CLI as a user would, with a clean environment (no local(8) variables), in
 * ROOT; a command naming a PostgreSQL store of STORE_FOLDERS runs in that store's folder,
 * as an operator runs m4me in the site's folder (unless `cwd` says otherwise).
 */
export function runCli(args: string[], opts: { stdin?: Buffer | string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...opts.env };
    const site = args.find((a) => STORE_FOLDERS.has(a));
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? (site ? STORE_FOLDERS.get(site) : ROOT), env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}

export function tempDir(prefix = 'm4me-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh copy of the demo store in a temp folder; returns the store path. */
export function demoStoreFile(dir = tempDir(), mutate?: (s: StoreData) => void): string {
  const data = demoStore();
  mutate?.(data);
  const path = join(dir, 'store.json');
  writeFileSync(path, JSON.stringify(data));
  return path;
}

/**
 * The store's document: a JSON file's bytes, or, for a postgres:// URL, the file `m4me
 * copy-store URL FILE` writes (byte for byte what the JSON store would hold, CONTRACT §7).
 */
export function storeBytes(store: string): Buffer {
  if (!isPgUrl(store)) return readFileSync(store);
  const out = join(tempDir('m4me-copy-'), 'store.json');
  const r = spawnSync(process.execPath, [BIN, 'copy-store', store, out, '--quiet'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`m4me copy-store ${store} ${out} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return readFileSync(out);
}

/**
 * The store as every m4me reader sees it: a JSON store file with the journal `m4me serve`
 * keeps beside it until it is folded into the file (src/store/journal.ts), or a PostgreSQL
 * store copied to a file.
 */
export function readStore(path: string): StoreData {
  if (isPgUrl(path)) return JSON.parse(storeBytes(path).toString('utf8')) as StoreData;
  const { value, journal } = readWithJournal(path, () => readStoreFile(path) as unknown as Record<string, unknown>);
  if (journal.state === 'current') applyToData(value, journal.groups);
  return value as unknown as StoreData;
}

/** The store file alone, as it is on disk. */
export function readStoreFile(path: string): StoreData {
  return JSON.parse(readFileSync(path, 'utf8')) as StoreData;
}

export function jsonLines(stdout: string): Result[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Result);
}

export function corpusAvailable(what = 'corpus'): boolean {
  if (existsSync(join(CORPUS, 'all.mbox'))) return true;
  console.warn(`NOTICE: ../shared/corpus is absent; the ${what} test is skipped`);
  return false;
}

/** true where ../shared/corpus is there, else why not (for testIf). */
export const CORPUS_PRESENT: true | string = existsSync(join(CORPUS, 'all.mbox')) || '../shared/corpus is absent';

/**
 * `test` where a prerequisite holds, else `test.skip` with a visible notice, so a test
 * that cannot check anything is counted as skipped, never as passed. Decided when the
 * test file loads (jest has no skipping from inside a running test).
 */
export function testIf(available: boolean | string, what: string): typeof test | typeof test.skip {
  if (available === true) return test;
  console.warn(`NOTICE: ${what} is skipped${typeof available === 'string' ? `: ${available}` : ''}`);
  return test.skip;
}


/** A small RFC 5322 message. */
export function eml(h: { from?: string; to?: string; subject?: string; id?: string; date?: string; headers?: string[] }, body = 'Hello.\n'): string {
  return [
    `From: ${h.from ?? 'Ellen Brown <ellen.brown@widget.example>'}`,
    `To: ${h.to ?? 'widget-it@mail.4me.com'}`,
    `Subject: ${h.subject ?? 'Printer on floor 3 is broken'}`,
    `Date: ${h.date ?? 'Mon, 02 Mar 2026 08:30:00 +0000'}`,
    ...(h.id === '' ? [] : [`Message-ID: <${h.id ?? `t${Math.random().toString(36).slice(2)}@widget.example`}>`]),
    ...(h.headers ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
  ].join('\n');
}

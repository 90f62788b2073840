import { test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Result } from '../../src/cli/result.js';
import { demoStore } from '../../src/store/demo.js';
import { applyToData, readWithJournal } from '../../src/store/journal.js';
import type { StoreData } from '../../src/store/schema.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'm4me.js');
export const CORPUS = resolve(ROOT, '..', 'shared', 'corpus');
/** The instant the demo data is replayed at. */
export const DEMO_NOW = '2026-03-02T09:00:00+00:00';

export interface Run { code: number; stdout: string; stderr: string }

/** Runs the built CLI as a user would, with a clean environment (no local(8) variables). */
export function runCli(args: string[], opts: { stdin?: Buffer | string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...opts.env };
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env });
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
 * The store as every m4me reader sees it: the file, and the journal `m4me serve` keeps beside
 * it until it is folded into the file (src/store/journal.ts).
 */
export function readStore(path: string): StoreData {
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

/**
 * Reliability 1: many deliveries at once on one store, as Postfix runs them. The lock makes
 * them take turns; a process that cannot get it in time defers (75) without changing
 * anything; a lock left by a killed process is taken over once it is stale.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, utimesSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { expectOneStatusLine, mailWithAttachment, snapshot, startCli, until, writeConfig } from './helpers.js';

const attachmentMail = (id: string) => mailWithAttachment(id, Buffer.from('screenshot bytes'));

describe('parallel deliveries and the store lock', () => {
  test('40 processes at once on one store: 40 requests, unique IDs, valid JSON, all exit 0', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const before = readStore(store);
    const runs = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: eml({ id: `par${i}@t`, subject: `Parallel ${i}` }) })));
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const results = runs.map((r) => {
      const lines = jsonLines(r.stdout);
      expect(lines).toHaveLength(1);
      return lines[0]!;
    });
    expect(results.map((r) => r.outcome)).toEqual(Array(40).fill('request_created'));
    const ids = results.map((r) => r.record!.id);
    expect(new Set(ids).size).toBe(40);

    const after = readStore(store);
    expect(after.requests).toHaveLength(before.requests.length + 40);
    expect(after.inbound).toHaveLength(before.inbound.length + 40);
    const created = after.requests.slice(before.requests.length);
    expect(created.map((r) => r.message_id).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `par${i}@t`).sort());
    // What each process reported is what the store holds.
    for (const r of results) expect(created.find((q) => q.id === r.record!.id)?.message_id).toBe(r.message_id);
    expect(Math.min(...ids)).toBeGreaterThan(Math.max(...before.requests.map((r) => r.id)));
    expect(existsSync(`${store}.lock`)).toBe(false);
  }, 90_000);

  test('the lock held past lockTimeoutMs: exit 75, one 4.3.0 line, nothing changed; released: delivered', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const config = writeConfig(dir, { store: './store.json', lockTimeoutMs: 300 });
    const bytes = readFileSync(store);
    // Exactly how m4me takes the lock (src/store/store.ts).
    const release = await lockfile.lock(store, { realpath: false, lockfilePath: `${store}.lock`, stale: 15000, update: 5000 });
    let run;
    try {
      const started = Date.now();
      run = await runCli(['process', '--json', '--config', config], { stdin: attachmentMail('locked@t') });
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    } finally {
      await release();
    }
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.0 m4me: .*locked by another m4me process/);
    expect(run.stdout).toBe('');
    expect(readFileSync(store).equals(bytes)).toBe(true);
    // No attachment, reply or quarantine file either: nothing at all beside the store.
    expect(Object.keys(snapshot(dir)).sort()).toEqual(['m4me.json', 'store.json']);

    const retry = await runCli(['process', '--json', '--config', config], { stdin: attachmentMail('locked@t') });
    expect(retry.code).toBe(0);
    expect(jsonLines(retry.stdout)[0]!.outcome).toBe('request_created');
    expect(readStore(store).requests.some((r) => r.message_id === 'locked@t')).toBe(true);
  }, 30_000);

  test('a stale lock from a killed process is respected while fresh and taken over when stale', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const bytes = readFileSync(store);
    const lock = `${store}.lock`;
    // An mbox on stdin that stays open: the first message is processed (the lock taken) once
    // the second is complete, then the process waits for the rest; kill -9 it there.
    const entry = (id: string) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id, subject: 'Before the crash' })}\n`;
    const victim = startCli(['process', '--json', '--store', store, '--now', DEMO_NOW]);
    try {
      // Standard input splits at a `From ` line only once a header block follows it (the
      // mbox's own structure): the third message's header block ends the second message.
      victim.stdin!.write(`${entry('stale@t')}${entry('stale2@t')}From ellen.brown@widget.example Mon Mar  2 08:01:00 2026\nFrom: Ellen Brown <ellen.brown@widget.example>\n\n`);
      await until(() => existsSync(lock), 20_000, 'the lock');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      victim.kill('SIGKILL');
    }
    expect((await victim.done).code).toBe(-1);
    expect(existsSync(lock)).toBe(true);
    expect(readFileSync(store).equals(bytes)).toBe(true); // killed before its checkpoint

    // Fresh (refreshed by its holder until 15 s ago at most): another process waits, then defers.
    const config = writeConfig(dir, { store: './store.json', lockTimeoutMs: 500 });
    const blocked = await runCli(['process', '--json', '--config', config], { stdin: eml({ id: 'stale@t', subject: 'Before the crash' }) });
    expect(blocked.code).toBe(75);
    expectOneStatusLine(blocked.stderr, /^4\.3\.0 m4me: .*locked/);
    expect(readFileSync(store).equals(bytes)).toBe(true);

    // Not refreshed for longer than `stale` (15 s; aged here instead of waiting): taken over.
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const run = await runCli(['process', '--json', '--config', config], { stdin: eml({ id: 'stale@t', subject: 'Before the crash' }) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout)[0]!.outcome).toBe('request_created'); // the killed run never stored it
    expect(existsSync(lock)).toBe(false);
    const after = readStore(store);
    expect(after.requests.filter((r) => r.message_id === 'stale@t')).toHaveLength(1);
    expect(after.inbound.filter((e) => e.message_id === 'stale@t')).toHaveLength(1);
  }, 60_000);
  test('20 processes at once find a stale lock: one takes it over at a time, all 20 stored, none lost', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const before = readStore(store);
    mkdirSync(`${store}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${store}.lock`, old, old);
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: eml({ id: `take${i}@t`, subject: `Takeover ${i}` }) })));
    for (const r of runs) expect([r.code, r.stderr]).toEqual([0, '']);
    const after = readStore(store);
    expect(after.requests.slice(before.requests.length).map((r) => r.message_id).sort())
      .toEqual(Array.from({ length: 20 }, (_, i) => `take${i}@t`).sort());
    expect(existsSync(`${store}.lock`)).toBe(false);
    expect(existsSync(`${store}.lock.takeover`)).toBe(false);
  }, 90_000);
});

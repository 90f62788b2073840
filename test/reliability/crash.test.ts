/**
 * Reliability 2: kill -9 in the middle of a big mbox replay leaves the store as of its last
 * checkpoint (valid JSON, every entry whole); running the replay again finishes the job with
 * every message in the inbound ledger exactly once, no record twice, and no reply file twice.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { demoStoreFile, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { sha256, startCli, until } from './helpers.js';
import { workload } from './workload.js';

const N = 3000;

describe('crash in the middle of a batch', () => {
  test('kill -9 leaves the last checkpoint; the re-run adds exactly the missing messages', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const before = readStore(store);
    const { mbox, messageIds } = workload(N);
    const input = join(dir, 'replay.mbox');
    writeFileSync(input, mbox);

    // The system clock, as a real re-run after a crash has: replies must not double either.
    const first = startCli(['process', '--json', '--quiet', '--store', store, input]);
    const ino = statSync(store).ino;
    // The store is replaced (temp file + rename) at the first checkpoint: kill right after it.
    try {
      await until(() => statSync(store).ino !== ino, 60_000, 'the first checkpoint');
    } finally {
      first.kill('SIGKILL');
    }
    const killed = await first.done;
    expect(killed.code).toBe(-1); // killed, did not finish on its own

    // A valid store: parses, and holds a prefix of the replay, each message once.
    const crashed = readStore(store);
    const done = crashed.inbound.length - before.inbound.length;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(N);
    const ledgerIds = (s: typeof crashed) => s.inbound.slice(before.inbound.length).map((e) => e.message_id);
    expect(ledgerIds(crashed)).toEqual(messageIds.slice(0, done));

    // The killed process left its lock; it stops being refreshed, and after `stale` (15 s) it
    // is taken over. Age it instead of waiting 15 s.
    const lock = `${store}.lock`;
    expect(existsSync(lock)).toBe(true);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);

    const second = await runCli(['process', '--json', '--quiet', '--store', store, input]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const results = jsonLines(second.stdout);
    expect(results).toHaveLength(N);
    expect(results.slice(0, done).every((r) => r.outcome === 'duplicate')).toBe(true);
    expect(results.slice(done).filter((r) => r.outcome === 'duplicate' || r.outcome === 'failed')).toEqual([]);
    expect(existsSync(lock)).toBe(false);

    const after = readStore(store);
    // Every message exactly once in the ledger, in input order, under a unique key.
    expect(after.inbound).toHaveLength(before.inbound.length + N);
    expect(ledgerIds(after)).toEqual(messageIds);
    expect(new Set(after.inbound.map((e) => `${e.key}`)).size).toBe(after.inbound.length);
    // No record or note twice.
    const requestIds = after.requests.map((r) => r.message_id).filter(Boolean);
    expect(new Set(requestIds).size).toBe(requestIds.length);
    expect(new Set(after.requests.map((r) => r.id)).size).toBe(after.requests.length);
    const noteIds = after.notes.map((n) => n.message_id).filter(Boolean);
    expect(new Set(noteIds).size).toBe(noteIds.length);
    expect(new Set(after.notes.map((n) => n.id)).size).toBe(after.notes.length);
    expect(after.requests.length - before.requests.length).toBe(after.inbound.filter((e) => e.outcome === 'request_created').length - before.inbound.filter((e) => e.outcome === 'request_created').length);
    // Every reply recorded once, and exactly one outbox file for each: none doubled by the
    // re-run, none left over from the killed run.
    const outbox = readdirSync(`${store}.outbox`).filter((f) => f.endsWith('.eml'));
    const replyIds = after.auto_replies.map((r) => r.message_id);
    expect(new Set(replyIds).size).toBe(replyIds.length);
    expect(outbox.length).toBe(replyIds.length - before.auto_replies.length);
    for (const f of outbox) {
      const id = /^Message-ID: <([^>]+)>/m.exec(readFileSync(join(`${store}.outbox`, f), 'utf8'))![1]!;
      expect(replyIds).toContain(id);
    }
    // Every attachment a note names is there, whole.
    for (const a of after.notes.flatMap((n) => n.attachments ?? [])) {
      expect(sha256(readFileSync(join(dirname(store), a.path)))).toBe(a.sha256);
    }
  }, 110_000);
});

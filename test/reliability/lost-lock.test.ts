/**
 * Reliability: a batch that loses its lock never overwrites what another process stored.
 *
 * A batch replay holds the store lock and is stopped (SIGSTOP: a stalled VM, a debugger, a
 * long synchronous step) for longer than the lock's stale time. A single delivery then takes
 * the stale lock over, stores its message and exits 0: the MTA deletes its copy. When the
 * batch resumes, its next commit must not replace the store with its own older view: the
 * delivered message stays, and every result the batch printed is in the store (it defers
 * with 75 for the rest). The stale time is made small with M4ME_LOCK_STALE_MS.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEMO_NOW, demoStoreFile, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { mailWithAttachment, sha256, startCli, until } from './helpers.js';
import { workload } from './workload.js';

const STALE_MS = 2000;
const env = { M4ME_LOCK_STALE_MS: String(STALE_MS) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lost lock', () => {
  test('a batch stopped past the stale time: the delivery that took the lock over is not lost', async () => {
    const store = demoStoreFile(tempDir());
    const { mbox } = workload(300, 'stop');
    const half = mbox.indexOf('\nFrom ', mbox.length >> 1) + 1;

    // The batch reads standard input: it holds the lock from its first message on, and waits
    // for the rest of the input while holding it.
    const batch = startCli(['process', '--json', '--quiet', '--store', store, '--now', DEMO_NOW], env);
    batch.stdin!.write(mbox.subarray(0, half));
    const lock = `${store}.lock`;
    await until(() => existsSync(lock), 20_000, 'the batch to take the lock');
    await sleep(500); // it decides what it has read
    batch.kill('SIGSTOP');
    let single;
    try {
      await sleep(STALE_MS + 1000);
      // With the same attachment as the batch's first message: both write that file.
      single = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW],
        { stdin: mailWithAttachment('single-delivery@t', Buffer.from('attachment 0 '.repeat(40)), { subject: 'Delivered while the batch was stopped' }), env });
    } finally {
      batch.kill('SIGCONT');
    }
    batch.stdin!.end(mbox.subarray(half));
    const run = await batch.done;

    const final = readStore(store);
    const ledger = new Set(final.inbound.map((e) => e.message_id));
    // The single delivery either deferred, or its message is in the final store.
    expect([0, 75]).toContain(single.code);
    if (single.code === 0) {
      expect(jsonLines(single.stdout)[0]!.outcome).toBe('request_created');
      expect(ledger.has('single-delivery@t')).toBe(true);
      expect(final.requests.some((r) => r.message_id === 'single-delivery@t')).toBe(true);
    }
    // Every message the batch reported as done is in the final store.
    const reported = jsonLines(run.stdout).filter((r) => r.outcome !== 'failed' && r.message_id);
    for (const r of reported) expect(ledger.has(r.message_id!)).toBe(true);
    // The batch noticed: it deferred (75) with one status line, or everything it did is stored.
    if (run.code !== 0) {
      expect(run.code).toBe(75);
      expect(run.stderr.trim()).toMatch(/^4\.3\.0 m4me: lost the lock on store .*$/);
    } else {
      expect(reported).toHaveLength(300);
    }
    // Every attachment a note names is there, whole.
    for (const a of final.notes.flatMap((n) => n.attachments ?? [])) {
      expect(sha256(readFileSync(join(dirname(store), a.path)))).toBe(a.sha256);
    }
    expect(existsSync(lock)).toBe(false);
  }, 60_000);
});

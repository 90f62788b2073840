/**
 * Reliability 3: disk full or an I/O error while writing the store, an attachment, a reply or
 * the quarantine copy. The delivery defers (75, one 4.3.x line), the store is byte-identical,
 * and no file is left behind: no partial attachment, no reply for a request that was never
 * stored. A retry then succeeds.
 *
 * Two ways to fail a write:
 * - the test-only fault hook `M4ME_FAULT=write-store|write-file` (src/store/store.ts), which
 *   fails the write with ENOSPC after writing half of the file; runs everywhere;
 * - a real, tiny tmpfs (needs root and a kernel that lets it mount); skipped with a notice
 *   where that is not possible.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli, tempDir, testIf } from '../helpers/cli.js';
import { expectOneStatusLine, filesUnder, mailWithAttachment, sha256 } from './helpers.js';

const deliver = (store: string, message: string | Buffer, env?: Record<string, string>) =>
  runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: message, ...(env ? { env } : {}) });

/** The retry after the fault is fixed: delivered, and every attachment named is whole. */
async function expectRetryDelivers(store: string, message: string | Buffer) {
  const run = await deliver(store, message);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(jsonLines(run.stdout)[0]!.outcome).toBe('request_created');
  const data = readStore(store);
  for (const a of data.notes.flatMap((n) => n.attachments ?? [])) {
    expect(sha256(readFileSync(join(dirname(store), a.path)))).toBe(a.sha256);
  }
  expect(filesUnder(dirname(store)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

describe('disk full / I/O error (fault hook)', () => {
  test('attachment, reply and quarantine writes failing: 75, store and folder unchanged, no partial file', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const bytes = readFileSync(store);
    const message = mailWithAttachment('diskfull-file@t', Buffer.alloc(100_000, 7));

    const run = await deliver(store, message, { M4ME_FAULT: 'write-file' });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.1 m4me: cannot write beside store .*no space left on device/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(filesUnder(dir)).toEqual(['store.json']); // not even the half-written temp file

    // A message that cannot be read still defers when its quarantine copy cannot be saved:
    // bouncing it (65) would lose it.
    const garbage = await deliver(store, Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 0, 3]), { M4ME_FAULT: 'write-file' });
    expect(garbage.code).toBe(75);
    expectOneStatusLine(garbage.stderr, /^4\.3\.1 m4me: cannot save unreadable message to quarantine/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(filesUnder(dir)).toEqual(['store.json']);

    await expectRetryDelivers(store, message);
  });

  test('the store write failing: 75, store unchanged, the reply and attachment written for it removed', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const bytes = readFileSync(store);
    const message = mailWithAttachment('diskfull-store@t', Buffer.alloc(50_000, 9));

    const run = await deliver(store, message, { M4ME_FAULT: 'write-store' });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.1 m4me: cannot write store .*no space left on device.*left as it was/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    // The acknowledgement and the attachment were written before the store: both are gone,
    // so `m4me outbox --send` never acknowledges a request that does not exist.
    expect(filesUnder(dir)).toEqual(['store.json']);

    // In a batch too: nothing of the run reaches the store, nothing stays beside it.
    const batch = [1, 2, 3].map((i) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id: `batch${i}@t`, subject: `Batch ${i}` })}\n`).join('');
    const batchRun = await deliver(store, batch, { M4ME_FAULT: 'write-store' });
    expect(batchRun.code).toBe(75);
    expectOneStatusLine(batchRun.stderr, /^4\.3\.1 m4me: cannot write store/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(filesUnder(dir)).toEqual(['store.json']);

    await expectRetryDelivers(store, message);
  });
});

/** Mounts a tmpfs of `size` on a new folder; null (with the reason) where that is not possible. */
function mountTmpfs(size: string): { dir: string } | { why: string } {
  if (process.platform !== 'linux') return { why: 'not Linux' };
  if (process.getuid?.() !== 0) return { why: 'not root (mounting a tmpfs needs root)' };
  const dir = tempDir('m4me-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return { why: `mount failed: ${(r.stderr || r.error?.message || '').trim()}` };
  mounted.push(dir);
  return { dir };
}
const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted) spawnSync('umount', ['-l', dir]);
});

describe('disk full (a real tmpfs)', () => {
  const fs = mountTmpfs('1m');
  testIf(!('why' in fs) || fs.why, 'the real disk-full test (the fault-hook tests above still ran)')('an attachment, then the store, not fitting: 75, store unchanged, nothing partial left; space again: delivered', async () => {
    if ('why' in fs) return;
    const store = join(fs.dir, 'store.json');
    copyFileSync(demoStoreFile(), store);
    const bytes = readFileSync(store);

    // 1. A 2 MB attachment on a 1 MB file system: the attachment write runs out of space.
    const big = mailWithAttachment('tmpfs-big@t', Buffer.alloc(2_000_000, 5));
    const run = await deliver(store, big);
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.1 m4me: cannot write beside store .*no space left on device/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(filesUnder(fs.dir)).toEqual(['store.json']); // the partial attachment was removed

    // 2. Filled up to the last two pages: the acknowledgement still fits, the new store does not.
    const free = () => { const s = statfsSync(fs.dir); return s.bavail * s.bsize; };
    const filler = join(fs.dir, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 2 * 4096)));
    const small = eml({ id: 'tmpfs-small@t', subject: 'Disk almost full' }, `${'The printer is broken. '.repeat(200)}\n`);
    const full = await deliver(store, small);
    expect(full.code).toBe(75);
    expectOneStatusLine(full.stderr, /^4\.3\.1 m4me: cannot write store .*no space left on device/);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(filesUnder(fs.dir)).toEqual(['filler', 'store.json']);

    // 3. Space again: both are delivered.
    rmSync(filler);
    await expectRetryDelivers(store, small);
    await expectRetryDelivers(store, mailWithAttachment('tmpfs-fits@t', Buffer.alloc(200_000, 5)));
  });
});

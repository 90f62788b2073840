/**
 * Reliability: durable before exit 0. After m4me exits 0 the MTA deletes its copy, so every
 * file the delivery wrote must be on the disk by then, not only in the page cache: each file
 * (the attachment, the reply, the store) is fsync'ed (or fdatasync'ed) before the rename that
 * puts it in place, and its folder is fsync'ed after that rename. The attachment and the reply
 * are on the disk before the store that refers to them. Watched with strace; skipped with a
 * notice where strace is missing or cannot trace.
 */
import { describe, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, DEMO_NOW, demoStoreFile, ROOT, tempDir, testIf } from '../helpers/cli.js';
import { mailWithAttachment } from './helpers.js';

function straceWorks(): true | string {
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', process.execPath, '-e', '0'], { encoding: 'utf8' });
  if (r.error) return `strace is not installed (${(r.error as NodeJS.ErrnoException).code})`;
  return r.status === 0 || `strace cannot trace here: ${(r.stderr || '').trim().split('\n')[0]}`;
}

interface Event { kind: 'sync' | 'rename'; path: string; to?: string }

/** fsync/fdatasync completions (with the file's path, strace -y) and renames, in order. */
function events(trace: string): Event[] {
  const out: Event[] = [];
  const pending = new Map<string, string>();
  for (const line of trace.split('\n')) {
    const pid = /^(\d+)\s/.exec(line)?.[1] ?? '';
    const sync = /\b(?:fsync|fdatasync)\(\d+<([^>]*)>\)?(.*)$/.exec(line);
    if (sync) {
      if (/unfinished/.test(sync[2]!)) pending.set(pid, sync[1]!);
      else if (/= 0$/.test(sync[2]!)) out.push({ kind: 'sync', path: sync[1]! });
      continue;
    }
    if (/<\.\.\. (?:fsync|fdatasync) resumed>.*= 0$/.test(line) && pending.has(pid)) {
      out.push({ kind: 'sync', path: pending.get(pid)! });
      pending.delete(pid);
      continue;
    }
    const ren = /\brename(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)".*= 0$/.exec(line);
    if (ren) out.push({ kind: 'rename', path: ren[1]!, to: ren[2]! });
  }
  return out;
}

describe('durable before exit 0', () => {
  testIf(straceWorks(), 'the fsync test (strace)')('a delivery with an attachment and a reply syncs each file before its rename and the folder after it', () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const traceFile = join(tempDir(), 'strace.txt');
    const message = mailWithAttachment('durable@t', Buffer.alloc(30_000, 3));
    const r = spawnSync('strace', ['-f', '-qq', '-y', '-o', traceFile, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2',
      process.execPath, BIN, 'process', '--json', '--store', store, '--now', DEMO_NOW],
    { cwd: ROOT, input: message, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/tmp', NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout.trim()) as { outcome: string; note: { attachments: { path: string }[] } };
    expect(result.outcome).toBe('request_created');

    const all = events(readFileSync(traceFile, 'utf8'));
    const mine = all.filter((e) => (e.to ?? e.path).startsWith(dir));
    const renames = mine.filter((e) => e.kind === 'rename');
    const at = (e: Event) => all.indexOf(e);
    const blob = join(dirname(store), result.note.attachments[0]!.path);
    const outbox = `${store}.outbox`;
    // The three files of the delivery: attachment, reply, store.
    const targets = renames.map((e) => e.to!);
    expect(targets).toContain(blob);
    expect(targets).toContain(store);
    expect(targets.filter((t) => dirname(t) === outbox && t.endsWith('.eml'))).toHaveLength(1);
    for (const ren of renames) {
      // The renamed file's data is on the disk before it gets its name...
      const synced = mine.find((e) => e.kind === 'sync' && e.path === ren.path && at(e) < at(ren));
      expect({ rename: ren, syncedBefore: Boolean(synced) }).toEqual({ rename: ren, syncedBefore: true });
      // ...and the folder holding the new name after.
      const folder = mine.find((e) => e.kind === 'sync' && e.path === dirname(ren.to!) && at(e) > at(ren));
      expect({ rename: ren, folderSyncedAfter: Boolean(folder) }).toEqual({ rename: ren, folderSyncedAfter: true });
    }
    // The attachment and the reply are durable before the store that names them is committed.
    const commit = renames.find((e) => e.to === store)!;
    const blobRename = renames.find((e) => e.to === blob)!;
    expect(at(blobRename)).toBeLessThan(at(commit));
    expect(mine.some((e) => e.kind === 'sync' && e.path === dirname(blob) && at(e) < at(commit))).toBe(true);
    const replyTmp = renames.find((e) => dirname(e.to!) === outbox)!.path;
    expect(mine.some((e) => e.kind === 'sync' && e.path === replyTmp && at(e) < at(commit))).toBe(true);
    expect(mine.some((e) => e.kind === 'sync' && e.path === outbox && at(e) < at(commit))).toBe(true);
  });
});

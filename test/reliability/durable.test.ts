/**
 * Reliability: durable before exit 0. After m4me exits 0 the MTA deletes its copy, so every
 * file the delivery wrote must be on the disk by then, not only in the page cache: each file
 * (the attachment, the reply, the store) is fsync'ed (or fdatasync'ed) before the rename that
 * puts it in place, and its folder is fsync'ed after that rename. The attachment and the reply
 * are on the disk before the store that refers to them. `m4me serve` commits with a journal
 * line instead: a reply's data and temporary name are on the disk before that line, and the
 * 250 goes out after it (the rename into the outbox is not waited for: the next run puts a
 * recorded reply in place). Watched with strace; skipped with a notice where strace is missing
 * or cannot trace.
 */
import { afterEach, describe, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, DEMO_NOW, demoStoreFile, eml, ROOT, tempDir, testIf } from '../helpers/cli.js';
import { killLeftovers, lmtpSend, serve } from '../serve/lmtp.js';
import { mailWithAttachment } from './helpers.js';

function straceWorks(): true | string {
  const r = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', process.execPath, '-e', '0'], { encoding: 'utf8' });
  if (r.error) return `strace is not installed (${(r.error as NodeJS.ErrnoException).code})`;
  return r.status === 0 || `strace cannot trace here: ${(r.stderr || '').trim().split('\n')[0]}`;
}

interface Event { kind: 'sync' | 'rename' | 'reply'; path: string; to?: string }

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
    // An LMTP reply after DATA, written to the client's socket (serve).
    const reply = /\bwritev?\(\d+<.*?>, (?:\[\{iov_base=)?"(250 2\.0\.0 [^"]*)"/.exec(line);
    if (reply) out.push({ kind: 'reply', path: reply[1]! });
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

  afterEach(killLeftovers);

  testIf(straceWorks(), 'the fsync test (strace)')('serve: a reply is on the disk (its data and temporary name) before the journal line that commits it, and the 250 after that line', async () => {
    const dir = tempDir('m4me-serve-');
    const store = demoStoreFile(dir);
    const config = join(dir, 'm4merc.json');
    writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'] }));
    const socket = join(dir, 'lmtp.sock');
    const traceFile = join(tempDir(), 'strace.txt');
    // serve as the helper starts it, under strace (-y: the path of each synced descriptor).
    const srv = await serve(['--lmtp', `unix:${socket}`, '--config', config, '--now', DEMO_NOW], {}, (argv) => ['strace',
      ['-f', '-qq', '-y', '-o', traceFile, '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,write,writev', ...argv]]);
    // Two messages one after the other: the first starts the journal (a new file renamed into
    // place), the second appends to it (one fdatasync). Each is rejected with a reply queued.
    for (const id of ['first@t', 'second@t']) {
      const sent = await lmtpSend(srv.where, 'ellen.brown@widget.example', ['nobody@mail.4me.com'], eml({ id, subject: 'Hello' }, 'Hi.\n'));
      expect(sent.dataReplies).toEqual(['250 2.0.0 rejected no record (reject.unknown_address)']);
    }
    // strace holds a SIGTERM of its own until its tracee ends: the signal goes to serve itself.
    const pid = Number(readFileSync(`/proc/${srv.child.pid}/task/${srv.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    process.kill(pid, 'SIGTERM');
    expect(await srv.exited).toBe(0);

    const all = events(readFileSync(traceFile, 'utf8'));
    const at = (e: Event) => all.indexOf(e);
    const journal = `${store}.journal`;
    const outbox = `${store}.outbox`;
    const commits = all.filter((e) => (e.kind === 'rename' && e.to === journal) || (e.kind === 'sync' && e.path === journal));
    const replyRenames = all.filter((e) => e.kind === 'rename' && dirname(e.to!) === outbox && e.to!.endsWith('.eml'));
    const answers = all.filter((e) => e.kind === 'reply');
    expect(replyRenames).toHaveLength(2);
    expect(readdirSync(outbox).filter((n) => n.endsWith('.eml'))).toHaveLength(2);
    expect(answers).toHaveLength(2);
    replyRenames.forEach((ren, i) => {
      // The commit of this reply's message: the last journal commit before its rename.
      const commit = commits.filter((c) => at(c) < at(ren)).pop();
      expect({ reply: i, committed: Boolean(commit) }).toEqual({ reply: i, committed: true });
      const before = all.slice(0, at(commit!));
      expect({ reply: i, dataSynced: before.some((e) => e.kind === 'sync' && e.path === ren.path) }).toEqual({ reply: i, dataSynced: true });
      expect({ reply: i, nameSynced: before.some((e) => e.kind === 'sync' && e.path === outbox) }).toEqual({ reply: i, nameSynced: true });
      // The 250 goes out after the commit.
      expect(at(answers[i]!)).toBeGreaterThan(at(commit!));
    });
    // The second message's commit is a sync of the journal itself, after the first reply was sent.
    expect(commits.some((c) => c.kind === 'sync' && at(c) > at(answers[0]!) && at(c) < at(answers[1]!))).toBe(true);
  });
});

/**
 * Reliability: what a store write keeps and what a failed or killed run leaves.
 * - The store keeps its file mode and owner across writes (an operator's `chmod 640` and
 *   `chown m4me:` survive a delivery, also one run as root).
 * - A symlinked store path is written through to its target, never replaced by a file.
 * - `--json` results are printed only once the store change they report is committed: a
 *   delivery that ends in 75 never printed `request_created`.
 * - Outbox files of a run killed before its commit are removed by the next run: no reply to
 *   a message the store never recorded waits in the outbox forever.
 */
import { describe, expect, test } from '@jest/globals';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli, tempDir, testIf } from '../helpers/cli.js';
import { expectOneStatusLine, mailWithAttachment, snapshot, startCli, until, writeConfig } from './helpers.js';
import { workload } from './workload.js';

const deliver = (store: string, message: string | Buffer, env?: Record<string, string>) =>
  runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: message, ...(env ? { env } : {}) });

describe('store file hygiene', () => {
  test('init makes a store for its owner only (0600, whatever the umask); init --force keeps the mode given', async () => {
    const dir = tempDir();
    const store = join(dir, 'new-store.json');
    const init = await runCli(['init', '--demo', '--quiet', '--store', store]);
    expect(init.code).toBe(0);
    expect(statSync(store).mode & 0o7777).toBe(0o600);
    chmodSync(store, 0o640);
    const again = await runCli(['init', '--force', '--quiet', '--store', store]);
    expect(again.code).toBe(0);
    expect(statSync(store).mode & 0o7777).toBe(0o640);
    expect(readStore(store).accounts).toEqual([]);
  });

  test('files and folders made beside the store take its mode: 0640 store, 0640 files, 0750 folders', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    chmodSync(store, 0o640);
    // A new request with an attachment: an acknowledgement in the outbox, a file in <store>.files, a log line.
    const run = await deliver(store, mailWithAttachment('modes@t', Buffer.from('private report\n')));
    expect(run.code).toBe(0);
    const mode = (p: string) => statSync(p).mode & 0o777;
    const outbox = `${store}.outbox`;
    const replies = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    expect(replies).toHaveLength(1);
    const blobs = snapshot(`${store}.files`);
    expect(Object.keys(blobs)).toHaveLength(1);
    const blob = join(`${store}.files`, Object.keys(blobs)[0]!);
    expect({ store: mode(store), reply: mode(join(outbox, replies[0]!)), outbox: mode(outbox), blob: mode(blob), files: mode(`${store}.files`),
      shard: mode(dirname(blob)), log: mode(`${store}.log`) })
      .toEqual({ store: 0o640, reply: 0o640, outbox: 0o750, blob: 0o640, files: 0o750, shard: 0o750, log: 0o640 });
    // A store for its owner only: so are the files beside it, and the quarantine.
    const dir2 = tempDir();
    const store2 = demoStoreFile(dir2);
    chmodSync(store2, 0o600);
    const run2 = await deliver(store2, eml({ id: 'modes2@t' }));
    expect(run2.code).toBe(0);
    const reply2 = readdirSync(`${store2}.outbox`).find((f) => f.endsWith('.eml'))!;
    expect([mode(`${store2}.outbox`), mode(join(`${store2}.outbox`, reply2))]).toEqual([0o700, 0o600]);
    const bad = await deliver(store2, Buffer.from('no header fields here at all'));
    expect(bad.code).toBe(65);
    const q = `${store2}.quarantine`;
    expect(mode(q)).toBe(0o700);
    for (const f of readdirSync(q)) expect(mode(join(q, f))).toBe(0o600);
  });

  test('the store keeps its mode across writes', async () => {
    const store = demoStoreFile(tempDir());
    chmodSync(store, 0o640);
    const run = await deliver(store, eml({ id: 'mode@t' }));
    expect(run.code).toBe(0);
    expect(readStore(store).inbound.some((e) => e.message_id === 'mode@t')).toBe(true);
    expect(statSync(store).mode & 0o7777).toBe(0o640);
  });

  testIf(process.getuid?.() === 0 || 'not root (giving a file to another user needs root)', 'the store owner test')('the store keeps its owner and group when root writes it', async () => {
    const store = demoStoreFile(tempDir());
    chownSync(store, 65534, 65534);
    const run = await deliver(store, eml({ id: 'owner@t' }));
    expect(run.code).toBe(0);
    const st = statSync(store);
    expect([st.uid, st.gid]).toEqual([65534, 65534]);
  });

  test('a symlinked store path is written through to its target', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'));
    const target = demoStoreFile(join(dir, 'data'));
    const link = join(dir, 'm4me-store.json');
    symlinkSync('data/store.json', link);
    for (const id of ['link1@t', 'link2@t']) {
      const run = await deliver(link, eml({ id }));
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('data/store.json');
    const ids = readStore(target).inbound.map((e) => e.message_id);
    expect(ids).toEqual(expect.arrayContaining(['link1@t', 'link2@t']));
    expect(readdirSync(join(dir, 'data')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // `init --force` through the link replaces the target, and keeps the link.
    const init = await runCli(['init', '--force', '--quiet', '--store', link]);
    expect(init.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readStore(target).inbound).toEqual([]);
  });
});

describe('results only after commit', () => {
  test('a delivery whose store write fails prints no request_created', async () => {
    const store = demoStoreFile(tempDir());
    const run = await deliver(store, eml({ id: 'uncommitted@t' }), { M4ME_FAULT: 'write-store' });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.1 m4me: cannot write store/);
    expect(jsonLines(run.stdout)).toEqual([]);
  });

  test('a batch whose store write fails prints none of its results', async () => {
    const store = demoStoreFile(tempDir());
    const { mbox } = workload(40, 'fail');
    const run = await deliver(store, mbox, { M4ME_FAULT: 'write-store' });
    expect(run.code).toBe(75);
    expect(jsonLines(run.stdout)).toEqual([]);
  });
});

describe('a reply file failing in a batch', () => {
  test('written by the writer thread: 75 with one line, nothing printed, store and outbox as they were', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const bytes = readFileSync(store);
    // Twelve new requests: twelve acknowledgements, from the fifth on by the writer thread.
    const batch = Array.from({ length: 12 }, (_, i) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id: `reply-fail${i}@t`, subject: `Reply fails ${i}` })}\n`).join('');
    const run = await deliver(store, batch, { M4ME_FAULT: 'write-reply' });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.1 m4me: cannot write beside store .*no space left on device/);
    expect(jsonLines(run.stdout)).toEqual([]);
    expect(readFileSync(store).equals(bytes)).toBe(true);
    expect(existsSync(`${store}.outbox`) ? readdirSync(`${store}.outbox`) : []).toEqual([]);
  });
});

describe('a folder beside the store that cannot be written', () => {
  test('the line names the folder: an outbox under a regular file gives 75 4.3.0 and that path', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const bytes = readFileSync(store);
    writeFileSync(join(dir, 'not-a-folder'), '');
    const outbox = join(dir, 'not-a-folder', 'outbox');
    const config = writeConfig(dir, { store, outbox });
    const run = await runCli(['process', '--json', '--config', config, '--now', DEMO_NOW], { stdin: eml({ id: 'no-outbox@t' }) });
    expect(run.code).toBe(75);
    const line = expectOneStatusLine(run.stderr, /^4\.3\.0 m4me: cannot write beside store /);
    expect(line).toContain(`${outbox}: a path component is not a directory`);
    expect(readFileSync(store).equals(bytes)).toBe(true);
  });
});

describe('a killed run', () => {
  test('outbox files written before the commit that never came are removed by the next run', async () => {
    const store = demoStoreFile(tempDir());
    const outbox = `${store}.outbox`;
    const { mbox } = workload(60, 'kill');
    // A batch on standard input that is still waiting for the rest: its replies are written,
    // its store not yet (the first checkpoint comes after 2,000 messages or 5 s).
    const batch = startCli(['process', '--json', '--quiet', '--store', store, '--now', DEMO_NOW]);
    batch.stdin!.write(mbox);
    try {
      await until(() => existsSync(outbox) && readdirSync(outbox).length >= 10, 20_000, 'reply files of the batch');
    } finally {
      batch.kill('SIGKILL');
    }
    await batch.done;
    expect(readStore(store).auto_replies).toHaveLength(0); // nothing was committed
    // Age the dead process's lock instead of waiting for it to go stale.
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${store}.lock`, old, old);

    const next = await deliver(store, eml({ id: 'after-kill@t', subject: 'After the crash' }));
    expect(next.stderr).toBe('');
    expect(next.code).toBe(0);
    const recorded = new Set(readStore(store).auto_replies.map((r) => r.message_id));
    expect(recorded.size).toBe(1); // the acknowledgement of the new request
    const files = readdirSync(outbox).filter((f) => f !== 'sent');
    expect(files).toHaveLength(1);
    for (const f of files) {
      expect(f.endsWith('.eml')).toBe(true);
      const id = /^Message-ID: <([^>]+)>/m.exec(readFileSync(join(outbox, f), 'utf8'))?.[1];
      expect(recorded.has(id!)).toBe(true);
    }
    // `m4me outbox` lists only the recorded reply.
    const list = await runCli(['outbox', '--json', '--store', store]);
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout)).toHaveLength(1);
  }, 60_000);

  test('a reply whose commit came but whose rename did not is put in place; a dead process\'s temp files go', async () => {
    const store = demoStoreFile(tempDir());
    const outbox = `${store}.outbox`;
    const first = await deliver(store, eml({ id: 'committed@t', subject: 'Committed' }));
    expect(first.code).toBe(0);
    const [eml1] = readdirSync(outbox);
    // As a process killed between its commit and its renames leaves it; and leftovers of
    // processes killed before theirs (a reply, a store temp file).
    renameSync(join(outbox, eml1!), join(outbox, `${eml1}.4242-deadbeef-1.tmp`));
    writeFileSync(join(outbox, 'x.eml.4242-deadbeef-2.tmp'), 'Message-ID: <never-recorded@mail.4me.com>\r\n\r\nhalf');
    writeFileSync(join(dirname(store), '.store.json.4242-deadbeef-3.tmp'), '{"accounts":');

    const next = await deliver(store, eml({ id: 'next@t', subject: 'Next' }));
    expect(next.stderr).toBe('');
    expect(next.code).toBe(0);
    const files = readdirSync(outbox).sort();
    expect(files).toHaveLength(2);
    expect(files).toContain(eml1);
    expect(files.every((f) => f.endsWith('.eml'))).toBe(true);
    expect(readdirSync(dirname(store)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

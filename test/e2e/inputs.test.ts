/** Every kind of input, in input order: .eml, mbox (mboxrd), directories, Maildir, stdin. */
import { expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, testStore } from '../helpers/stores.js';

const mboxEntry = (msg: string, from = 'ellen.brown@widget.example') =>
  `From ${from} Mon Mar  2 08:00:00 2026\n${msg.replace(/^(>*From )/gm, '>$1')}\n\n`;

async function setup() {
  const dir = tempDir();
  const store = await testStore(dir);
  const run = (args: string[], stdin?: string | Buffer) =>
    runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...args], { stdin });
  return { dir, store, run };
}

describeStores('inputs', () => {
  test('a mix of .eml, mbox, directory and Maildir keeps input order', async () => {
    const { dir, store, run } = await setup();
    writeFileSync(join(dir, 'a.eml'), eml({ id: 'a@t', subject: 'A' }));
    writeFileSync(join(dir, 'box.mbox'), mboxEntry(eml({ id: 'b@t', subject: 'B' })) + mboxEntry(eml({ id: 'c@t', subject: 'C' })));
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'folder', '2.eml'), eml({ id: 'e@t', subject: 'E' }));
    writeFileSync(join(dir, 'folder', '1.eml'), eml({ id: 'd@t', subject: 'D' }));
    writeFileSync(join(dir, 'folder', 'notes.txt'), 'not mail');
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(dir, 'Maildir', sub), { recursive: true });
    writeFileSync(join(dir, 'Maildir', 'cur', '1700000000.1.host:2,S'), eml({ id: 'g@t', subject: 'G' }));
    writeFileSync(join(dir, 'Maildir', 'new', '1700000001.2.host'), eml({ id: 'f@t', subject: 'F' }));
    writeFileSync(join(dir, 'Maildir', 'tmp', 'partial'), eml({ id: 'never@t', subject: 'never' }));
    const r = await run([join(dir, 'a.eml'), join(dir, 'box.mbox'), join(dir, 'folder'), join(dir, 'Maildir')]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.message_id)).toEqual(['a@t', 'b@t', 'c@t', 'd@t', 'e@t', 'f@t', 'g@t']);
    expect(lines[1]!.input).toBe(`mbox:${join(dir, 'box.mbox')}#1`);
    expect(lines[3]!.input).toBe(join(dir, 'folder', '1.eml'));
    const subjects = readStore(store).requests.slice(-7).map((q) => q.subject);
    expect(subjects).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G']);
  });

  test('mboxrd quoting is undone and a body From line does not split a message', async () => {
    const { dir, store, run } = await setup();
    const body = 'First line.\n\nFrom here on it is a quote.\n>From the archive\n';
    const box = mboxEntry(eml({ id: 'q@t', subject: 'Quoted' }, body)) + mboxEntry(eml({ id: 'r@t', subject: 'Next' }));
    writeFileSync(join(dir, 'q.mbox'), box);
    const r = await run([join(dir, 'q.mbox')]);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(2);
    const note = readStore(store).notes.find((n) => n.message_id === 'q@t')!;
    expect(note.text).toBe('First line.\n\nFrom here on it is a quote.\n>From the archive');
  });

  test('an mbox of several MB (messages across its 1 MB reads): the same requests as the same messages as files', async () => {
    const big = await setup();
    const files = await setup();
    mkdirSync(join(files.dir, 'folder'));
    let mbox = '';
    for (let i = 0; i < 12; i++) {
      // ~220 KB each: many lie across a read's end; one holds a quoted From line.
      const lines = Array.from({ length: 3000 }, (_, j) => `message ${i} line ${j} ${'x'.repeat(60)}`);
      if (i === 5) lines.splice(10, 0, 'From the middle of message five');
      const msg = eml({ id: `big-${i}@t`, subject: `Big ${i}` }, lines.join('\n'));
      mbox += mboxEntry(msg);
      writeFileSync(join(files.dir, 'folder', `${String(i).padStart(2, '0')}.eml`), msg);
    }
    expect(mbox.length).toBeGreaterThan(2.5 * (1 << 20));
    writeFileSync(join(big.dir, 'box.mbox'), mbox);
    const a = await big.run([join(big.dir, 'box.mbox')]);
    const b = await files.run([join(files.dir, 'folder')]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(jsonLines(a.stdout).map((l) => l.outcome)).toEqual(Array(12).fill('request_created'));
    const requests = readStore(big.store).requests.slice(-12);
    expect(requests.map((q) => q.subject)).toEqual(Array.from({ length: 12 }, (_, i) => `Big ${i}`));
    expect(requests).toEqual(readStore(files.store).requests.slice(-12));
    // The text of each (its first note), byte for byte as read from its own file.
    const notes = readStore(big.store).notes.slice(-12);
    expect(JSON.stringify(notes)).toContain('From the middle of message five');
    expect(JSON.stringify(notes)).toContain('message 11 line 2999');
    expect(notes).toEqual(readStore(files.store).notes.slice(-12));
  });

  test('an mbox from a named pipe (as `m4me process <(zcat archive.gz)` gives): every message, in order', async () => {
    const { dir, store, run } = await setup();
    const fifo = join(dir, 'archive.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // Written a piece at a time, so the reads are short and messages lie across them.
    let mbox = '';
    for (let i = 0; i < 40; i++) mbox += mboxEntry(eml({ id: `pipe-${i}@t`, subject: `Pipe ${i}` }, `${'line of text\n'.repeat(400)}end ${String(i).padStart(3, '0')}\n`));
    const writer = spawn('sh', ['-c', 'dd bs=7000 of="$1" 2>/dev/null', 'sh', fifo], { stdio: ['pipe', 'ignore', 'ignore'] });
    writer.stdin.end(mbox);
    const r = await run([fifo]);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((l) => l.message_id)).toEqual(Array.from({ length: 40 }, (_, i) => `pipe-${i}@t`));
    const notes = readStore(store).notes.slice(-40);
    expect(notes.every((n, i) => JSON.stringify(n).includes(`end ${String(i).padStart(3, '0')}`))).toBe(true);
  });

  test('stdin: one message without a From line', async () => {
    const { run } = await setup();
    const r = await run([], eml({ id: 's1@t' }));
    expect(jsonLines(r.stdout).map((l) => [l.input, l.outcome])).toEqual([['stdin', 'request_created']]);
  });

  test('stdin: one message with the From line local(8) adds, and a body From line', async () => {
    const { run, store } = await setup();
    const r = await run(['-'], mboxEntry(eml({ id: 's2@t' }, 'Hi\n\nFrom me, thanks.\n')));
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => [l.input, l.outcome])).toEqual([['stdin', 'request_created']]);
    expect(readStore(store).notes.find((n) => n.message_id === 's2@t')!.text).toBe('Hi\n\nFrom me, thanks.');
  });

  test('stdin: an mbox of several messages', async () => {
    const { run } = await setup();
    const r = await run([], mboxEntry(eml({ id: 'm1@t', subject: 'one' })) + mboxEntry(eml({ id: 'm2@t', subject: 'two' })));
    expect(jsonLines(r.stdout).map((l) => l.input)).toEqual(['mbox:stdin#1', 'mbox:stdin#2']);
  });

  test('an archive whose separators say From MAILER-DAEMON (or From -) is mail from its senders, not bounces', async () => {
    const { dir, run } = await setup();
    const box = mboxEntry(eml({ id: 'md1@t', subject: 'one' }), 'MAILER-DAEMON') + mboxEntry(eml({ id: 'md2@t', subject: 'two' }), '-');
    writeFileSync(join(dir, 'archive.mbox'), box);
    const fromFile = await run([join(dir, 'archive.mbox')]);
    expect(jsonLines(fromFile.stdout).map((l) => [l.message_id, l.outcome])).toEqual([['md1@t', 'request_created'], ['md2@t', 'request_created']]);
    // The same archive on standard input: several messages, so an archive too.
    const { run: run2 } = await setup();
    const fromStdin = await run2([], box);
    expect(jsonLines(fromStdin.stdout).map((l) => l.outcome)).toEqual(['request_created', 'request_created']);
    // One message on standard input: its From line is the envelope (local(8), procmail).
    const { run: run3 } = await setup();
    const one = await run3([], mboxEntry(eml({ id: 'md3@t', subject: 'bounce' }), 'MAILER-DAEMON'));
    expect(jsonLines(one.stdout).map((l) => [l.outcome, l.rule])).toEqual([['rejected', 'reject.mail_system']]);
  });

  test('CRLF mbox', async () => {
    const { dir, run } = await setup();
    const box = (mboxEntry(eml({ id: 'c1@t', subject: 'one' })) + mboxEntry(eml({ id: 'c2@t', subject: 'two' }))).replace(/\n/g, '\r\n');
    writeFileSync(join(dir, 'crlf.mbox'), box);
    const r = await run([join(dir, 'crlf.mbox')]);
    expect(jsonLines(r.stdout).map((l) => [l.message_id, l.outcome])).toEqual([['c1@t', 'request_created'], ['c2@t', 'request_created']]);
  });

  test('a missing input fails the run before anything is applied (exit 64)', async () => {
    const { dir, store, run } = await setup();
    writeFileSync(join(dir, 'ok.eml'), eml({ id: 'ok@t' }));
    const before = readStore(store);
    const r = await run([join(dir, 'ok.eml'), join(dir, 'missing.eml')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/missing\.eml: no such file or directory/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readStore(store)).toEqual(before);
  });
});

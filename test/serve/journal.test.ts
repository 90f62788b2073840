/**
 * serve's journal beside the JSON store (src/store/journal.ts), through the built CLI and a
 * real LMTP client: a 250 is visible to every reader at once (list, show, log, outbox,
 * check-config, copy-store); the journal is folded into the store file when serve is idle,
 * at SIGTERM and by any other writer; kill -9 at each point of a commit or a fold loses and
 * doubles nothing (M4ME_FAULT=crash-* stops the process right there); a torn last line, a
 * stale journal and one that extends a replaced store file are never applied.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, readStoreFile, runCli, tempDir } from '../helpers/cli.js';
import { killLeftovers, lmtpSend, serve, until } from './lmtp.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const ELLEN = 'ellen.brown@widget.example';
const IT = 'widget-it@mail.4me.com';
/** No idle fold during the test: the journal stays until SIGTERM or another writer. */
const NO_IDLE = { M4ME_JOURNAL_IDLE_MS: '600000' };
/** A process killed holding the lock leaves it: taken over after 2 s instead of 15. */
const STALE = { M4ME_LOCK_STALE_MS: '2000' };

function setup() {
  const dir = tempDir('m4me-journal-');
  const store = demoStoreFile(dir);
  const config = join(dir, 'm4merc.json');
  writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com', 'mail.r-service.tech'] }));
  const socket = join(dir, 'lmtp.sock');
  return { dir, store, config, journal: `${store}.journal`, args: ['--lmtp', `unix:${socket}`, '--config', config, '--now', DEMO_NOW] };
}

const journalLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const ids = (path: string, prefix: string) => readStore(path).inbound.map((e) => e.message_id ?? '').filter((id) => id.startsWith(prefix));

describe('m4me serve: the journal beside the JSON store', () => {
  afterEach(killLeftovers);

  test('a 250 is in the journal, not yet the file, and every reader sees it at once; SIGTERM folds it and removes the journal', async () => {
    const s = setup();
    const before = readFileSync(s.store);
    const srv = await serve(s.args, NO_IDLE);
    const a = await lmtpSend(srv.where, ELLEN, [IT, 'nobody@mail.4me.com'], crlf(eml({ id: 'seen@widget.example', subject: 'Seen at once' })));
    expect(a.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)', '250 2.0.0 rejected no record (reject.unknown_address)']);
    // The commit was one line in the journal; the store file is as it was.
    expect(readFileSync(s.store).equals(before)).toBe(true);
    const lines = journalLines(s.journal);
    expect(lines[0]).toMatchObject({ m4me_journal: 1, store: { ino: expect.any(String), size: String(before.length) } });
    expect(lines).toHaveLength(2);

    const list = await runCli(['list', 'request', '--json', '--config', s.config]);
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout).map((r) => (r as unknown as { id: number }).id)).toContain(100042);
    const show = await runCli(['show', 'request', '100042', '--json', '--config', s.config]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ record: { subject: 'Seen at once' }, notes: [{ text: 'Hello.' }] });
    const log = await runCli(['log', '--json', '--explain', '--config', s.config, '--message-id', 'seen@widget.example']);
    expect(jsonLines(log.stdout).map((l) => (l as unknown as { outcome: string; trace: unknown[] }))).toEqual([
      expect.objectContaining({ outcome: 'request_created', trace: expect.arrayContaining([expect.anything()]) }),
      expect.objectContaining({ outcome: 'rejected', trace: expect.arrayContaining([expect.anything()]) }),
    ]);
    // The Email Rejected reply is recorded (in the journal): outbox --send would send it, not hold it.
    const outbox = await runCli(['outbox', '--send', '--dry-run', '--json', '--config', s.config]);
    const items = jsonLines(outbox.stdout) as unknown as { status: string; kind: string }[];
    expect(items.map((i) => i.kind)).toContain('email_rejected');
    expect(items.filter((i) => i.status === 'held')).toEqual([]);
    const check = await runCli(['check-config', '--config', s.config]);
    expect(check.code).toBe(0);
    const copy = join(s.dir, 'copy.json');
    expect((await runCli(['copy-store', s.store, copy, '--quiet'])).code).toBe(0);
    expect(readStoreFile(copy).requests.map((r) => r.id)).toContain(100042);

    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(existsSync(s.journal)).toBe(false);
    const file = readStoreFile(s.store);
    expect(file.requests.filter((r) => r.id === 100042)).toHaveLength(1);
    expect(file.inbound.filter((e) => e.message_id === 'seen@widget.example')).toHaveLength(2);
    // copy-store of store + journal gave the document the fold wrote, byte for byte.
    expect(readFileSync(copy, 'utf8')).toBe(readFileSync(s.store, 'utf8'));
    // The delivery log got the journal's lines at the fold.
    expect(readFileSync(`${s.store}.log`, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  }, 60000);

  test('idle: the journal is folded into the file a second after the last commit', async () => {
    const s = setup();
    const srv = await serve(s.args);
    const a = await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'idle@widget.example', subject: 'Idle fold' })));
    expect(a.dataReplies[0]).toMatch(/^250 2\.0\.0 request_created request 100042 /);
    await until(() => !existsSync(s.journal) && readStoreFile(s.store).requests.some((r) => r.id === 100042), 10000);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('a journal past its limit is folded at once', async () => {
    const s = setup();
    const srv = await serve(s.args, { ...NO_IDLE, M4ME_JOURNAL_MAX_BYTES: '1' });
    for (let i = 0; i < 3; i++) {
      const r = await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: `full-${i}@widget.example`, subject: `Full ${i}` })));
      expect(r.dataReplies[0]).toMatch(/^250 /);
      await until(() => !existsSync(s.journal));
      expect(readStoreFile(s.store).inbound.filter((e) => e.message_id === `full-${i}@widget.example`)).toHaveLength(1);
    }
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('process beside serve folds the journal: both sets of messages are in the file, each once', async () => {
    const s = setup();
    const srv = await serve(s.args, NO_IDLE);
    for (const i of [1, 2]) expect((await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: `lmtp-${i}@widget.example`, subject: `LMTP ${i}` })))).dataReplies[0]).toMatch(/^250 /);
    expect(existsSync(s.journal)).toBe(true);
    const p = await runCli(['process', '--json', '--config', s.config, '--now', DEMO_NOW, '--recipient', IT], { stdin: eml({ id: 'pipe-1@widget.example', subject: 'Pipe 1' }) });
    expect(p.code).toBe(0);
    expect(jsonLines(p.stdout)[0]?.record).toEqual({ type: 'request', id: 100044 });
    expect(existsSync(s.journal)).toBe(false);
    const file = readStoreFile(s.store);
    expect(file.inbound.map((e) => e.message_id).filter((id) => /^(lmtp|pipe)-/.test(id ?? ''))).toEqual(['lmtp-1@widget.example', 'lmtp-2@widget.example', 'pipe-1@widget.example']);
    expect(file.requests.map((r) => r.id).filter((id) => id >= 100042)).toEqual([100042, 100043, 100044]);
    // serve reads the file again and journals on top of it.
    const c = await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'lmtp-3@widget.example', subject: 'LMTP 3' })));
    expect(c.dataReplies).toEqual(['250 2.0.0 request_created request 100045 (create.new_request)']);
    expect(existsSync(s.journal)).toBe(true);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(existsSync(s.journal)).toBe(false);
    expect(readStoreFile(s.store).requests.map((r) => r.id).filter((id) => id >= 100042)).toEqual([100042, 100043, 100044, 100045]);
    // The delivery log has each message once (the journal's lines appended by process's fold).
    const logged = readFileSync(`${s.store}.log`, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message_id: string }).message_id);
    expect(logged.sort()).toEqual(['lmtp-1@widget.example', 'lmtp-2@widget.example', 'lmtp-3@widget.example', 'pipe-1@widget.example']);
  }, 60000);

  test('kill -9 mid-load, then a restart: every 250 in the store exactly once, before and after re-delivery', async () => {
    const s = setup();
    const env = { ...NO_IDLE, M4ME_LOCK_STALE_MS: '2000' };
    const srv = await serve(s.args, env);
    const n = 40;
    const msg = (i: number) => crlf(eml({ id: `jk-${i}@widget.example`, subject: `Journal storm ${i}`, from: `Person ${i} <ellen.brown@widget.example>` }));
    let answered = 0;
    const sent = Array.from({ length: n }, (_, i) => lmtpSend(srv.where, ELLEN, [IT], msg(i))
      .then((r) => { if (r.dataReplies[0]?.startsWith('250 ')) answered++; return r; }));
    await until(() => answered >= 8);
    srv.child.kill('SIGKILL');
    const r1 = await Promise.all(sent);
    const acked = r1.map((r, i) => (r.dataReplies[0]?.startsWith('250 ') ? `jk-${i}@widget.example` : null)).filter((x): x is string => !!x);
    // Nothing was folded: the 250s are the journal's; each once, none missing.
    expect(existsSync(s.journal)).toBe(true);
    const inStore = ids(s.store, 'jk-');
    expect(new Set(inStore).size).toBe(inStore.length);
    for (const id of acked) expect(inStore).toContain(id);
    const list = await runCli(['list', 'request', '--json', '--config', s.config]);
    const subjects = jsonLines(list.stdout).map((r) => (r as unknown as { subject: string }).subject).filter((x) => x.startsWith('Journal storm'));
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(subjects.length).toBe(inStore.length);

    const again = await serve(s.args, env);
    for (let i = 0; i < n; i++) {
      const r = await lmtpSend(again.where, ELLEN, [IT], msg(i));
      expect(r.dataReplies[0]).toMatch(acked.includes(`jk-${i}@widget.example`) ? /^250 2\.0\.0 duplicate / : /^250 2\.0\.0 (request_created|duplicate) /);
    }
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(existsSync(s.journal)).toBe(false);
    const file = readStoreFile(s.store);
    for (let i = 0; i < n; i++) {
      expect(file.inbound.filter((e) => e.message_id === `jk-${i}@widget.example`)).toHaveLength(1);
      expect(file.requests.filter((r) => r.subject === `Journal storm ${i}`)).toHaveLength(1);
    }
  }, 120000);

  test('killed after the journal sync, before the 250: the message is in the store; its retry is a duplicate', async () => {
    const s = setup();
    const srv = await serve(s.args, { ...NO_IDLE, ...STALE, M4ME_FAULT: 'crash-after-journal' });
    const m = crlf(eml({ id: 'unanswered@widget.example', subject: 'Never answered' }));
    const a = await lmtpSend(srv.where, ELLEN, [IT], m);
    expect(a.dataReplies).toEqual([]);
    expect(await srv.exited).toBe('SIGKILL');
    expect(ids(s.store, 'unanswered@')).toEqual(['unanswered@widget.example']);
    const again = await serve(s.args, { ...NO_IDLE, ...STALE });
    const b = await lmtpSend(again.where, ELLEN, [IT], m);
    expect(b.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 duplicate request 100042 /)]);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(readStoreFile(s.store).inbound.filter((e) => e.message_id === 'unanswered@widget.example')).toHaveLength(1);
  });

  test('a fold killed before its rename: the journal still extends the file and is applied once; the next fold completes it', async () => {
    const s = setup();
    const srv = await serve(s.args, { ...NO_IDLE, ...STALE, M4ME_FAULT: 'crash-before-fold-rename' });
    expect((await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'pre@widget.example', subject: 'Before rename' })))).dataReplies[0]).toMatch(/^250 /);
    srv.child.kill('SIGTERM'); // the fold at SIGTERM is killed right before its rename
    expect(await srv.exited).toBe('SIGKILL');
    expect(readStoreFile(s.store).inbound.some((e) => e.message_id === 'pre@widget.example')).toBe(false);
    expect(journalLines(s.journal).some((l) => 'folded' in l)).toBe(true);
    expect(ids(s.store, 'pre@')).toEqual(['pre@widget.example']);
    const again = await serve(s.args, { ...NO_IDLE, ...STALE });
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(existsSync(s.journal)).toBe(false);
    expect(readStoreFile(s.store).inbound.filter((e) => e.message_id === 'pre@widget.example')).toHaveLength(1);
    // The new store file left by the killed fold was cleaned up.
    expect(readdirSync(s.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('a fold killed after its rename: the stale journal is ignored by every reader, never applied twice, and removed by the next writer', async () => {
    const s = setup();
    const srv = await serve(s.args, { ...NO_IDLE, ...STALE, M4ME_FAULT: 'crash-after-fold-rename' });
    expect((await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'post@widget.example', subject: 'After rename' })))).dataReplies[0]).toMatch(/^250 2\.0\.0 request_created request 100042 /);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe('SIGKILL');
    // The file has the message; the journal is still there, naming the old file.
    expect(readStoreFile(s.store).inbound.filter((e) => e.message_id === 'post@widget.example')).toHaveLength(1);
    expect(existsSync(s.journal)).toBe(true);
    expect(ids(s.store, 'post@')).toEqual(['post@widget.example']);
    const list = await runCli(['list', 'request', '--json', '--config', s.config]);
    expect(jsonLines(list.stdout).filter((r) => (r as unknown as { id: number }).id === 100042)).toHaveLength(1);
    // serve, started again, does not apply it: the next ID is 100043.
    const again = await serve(s.args, { ...NO_IDLE, ...STALE });
    const b = await lmtpSend(again.where, ELLEN, [IT], crlf(eml({ id: 'next@widget.example', subject: 'Next' })));
    expect(b.dataReplies).toEqual(['250 2.0.0 request_created request 100043 (create.new_request)']);
    // Its own journal replaced the stale one.
    expect(journalLines(s.journal).filter((l) => 'ops' in l)).toHaveLength(1);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    const file = readStoreFile(s.store);
    expect(file.requests.map((r) => r.id).filter((id) => id >= 100042)).toEqual([100042, 100043]);
    expect(file.inbound.filter((e) => e.message_id === 'post@widget.example')).toHaveLength(1);
    expect(existsSync(s.journal)).toBe(false);
    // Its marker said it was folded: removed, not kept aside as an orphan.
    expect(readdirSync(s.dir).filter((n) => n.endsWith('.orphaned'))).toEqual([]);
    expect(again.stderr()).not.toMatch(/warning/);
  });

  test('a torn last line (killed mid-append) is ignored, and cut away before the next append', async () => {
    const s = setup();
    const srv = await serve(s.args, NO_IDLE);
    expect((await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'whole@widget.example', subject: 'Whole' })))).dataReplies[0]).toMatch(/^250 /);
    srv.child.kill('SIGKILL');
    await srv.exited;
    // What a crash in the middle of the next append leaves: part of a line, no newline.
    const torn = JSON.stringify({ ops: [['inbound', { key: 'torn', message_id: 'torn@widget.example', recipient: IT, received_at: DEMO_NOW, outcome: 'request_created', rule: 'create.new_request', record: null }]], log: [] });
    appendFileSync(s.journal, torn.slice(0, torn.length - 7));
    expect(ids(s.store, 'whole@')).toEqual(['whole@widget.example']);
    expect(readStore(s.store).inbound.some((e) => e.message_id === 'torn@widget.example')).toBe(false);
    const list = await runCli(['list', 'request', '--json', '--config', s.config]);
    expect(list.code).toBe(0);
    const again = await serve(s.args, { ...NO_IDLE, ...STALE });
    expect((await lmtpSend(again.where, ELLEN, [IT], crlf(eml({ id: 'after@widget.example', subject: 'After' })))).dataReplies).toEqual(['250 2.0.0 request_created request 100043 (create.new_request)']);
    // Every line parses: the torn one is gone.
    const text = readFileSync(s.journal, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(journalLines(s.journal).filter((l) => 'ops' in l)).toHaveLength(2);
    expect(text).not.toContain('torn@');
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    const file = readStoreFile(s.store);
    expect(file.inbound.map((e) => e.message_id).filter((id) => ['whole@widget.example', 'after@widget.example', 'torn@widget.example'].includes(id ?? ''))).toEqual(['whole@widget.example', 'after@widget.example']);
  });

  test('a store file replaced (not by m4me) while a journal extends it: the journal is not applied, and kept aside with a warning', async () => {
    const s = setup();
    const backup = join(s.dir, 'backup.json');
    copyFileSync(s.store, backup);
    const srv = await serve(s.args, NO_IDLE);
    expect((await lmtpSend(srv.where, ELLEN, [IT], crlf(eml({ id: 'lost@widget.example', subject: 'Restored away' })))).dataReplies[0]).toMatch(/^250 /);
    srv.child.kill('SIGKILL');
    await srv.exited;
    // An operator restores a backup (another version of the file) over the store.
    writeFileSync(s.store, `${readFileSync(backup, 'utf8')} `);
    expect(readStore(s.store).inbound.some((e) => e.message_id === 'lost@widget.example')).toBe(false);
    const check = await runCli(['check-config', '--config', s.config]);
    expect(check.stdout).toMatch(/journal .*extends another version of the store file/);
    const p = await runCli(['process', '--config', s.config, '--now', DEMO_NOW, '--recipient', IT, '--quiet'], { stdin: eml({ id: 'later@widget.example', subject: 'Later' }) });
    expect(p.code).toBe(0);
    expect(p.stderr).toMatch(/warning: the journal beside store .* kept as .*\.orphaned/);
    expect(existsSync(s.journal)).toBe(false);
    const aside = readdirSync(s.dir).filter((n) => n.startsWith('store.json.journal.') && n.endsWith('.orphaned'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(s.dir, aside[0]!), 'utf8')).toContain('lost@widget.example');
    const file = readStoreFile(s.store);
    expect(file.inbound.map((e) => e.message_id)).toContain('later@widget.example');
    expect(file.inbound.map((e) => e.message_id)).not.toContain('lost@widget.example');
    expect((await runCli(['check-config', '--config', s.config])).stdout).toMatch(/\.orphaned: a journal kept aside/);
  });

  test('the file after SIGTERM is the document process makes of the same messages in the order serve committed them', async () => {
    const s = setup();
    const srv = await serve(s.args, NO_IDLE);
    const attachment = Buffer.from('%PDF-1.4 not really a pdf\n').toString('base64');
    const raw = (i: number) => {
      if (i === 3) {
        // A reply to the first message's request: a note, and the request's updated_at touched.
        return crlf(eml({ id: `eq-${i}@widget.example`, subject: 'Re: Equal 0', headers: ['In-Reply-To: <eq-0@widget.example>', 'References: <eq-0@widget.example>'] }, 'Any news?\n'));
      }
      if (i === 5) {
        return crlf([
          'From: Ellen Brown <ellen.brown@widget.example>', `To: ${IT}`, 'Subject: Equal 5 with a file', 'Date: Mon, 02 Mar 2026 08:30:00 +0000',
          `Message-ID: <eq-${i}@widget.example>`, 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
          '--b', 'Content-Type: text/plain', '', 'See attached.', '--b', 'Content-Type: application/pdf; name="r.pdf"',
          'Content-Disposition: attachment; filename="r.pdf"', 'Content-Transfer-Encoding: base64', '', attachment, '--b--', '',
        ].join('\n'));
      }
      return crlf(eml({ id: `eq-${i}@widget.example`, subject: `Equal ${i}`, from: i === 4 ? 'stranger@unknown.example' : undefined }));
    };
    // The first alone (the reply needs its request), then the rest at once: groups interleave.
    expect((await lmtpSend(srv.where, ELLEN, [IT], raw(0))).dataReplies[0]).toMatch(/^250 /);
    const rest = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => lmtpSend(srv.where, ELLEN, [IT], raw(i))));
    for (const r of rest) expect(r.dataReplies[0]).toMatch(/^250 /);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(existsSync(s.journal)).toBe(false);

    // The order serve decided them in is the ledger's; process them in that order.
    const order = readStoreFile(s.store).inbound.map((e) => e.message_id ?? '').filter((id) => id.startsWith('eq-'));
    expect(order).toHaveLength(8);
    const other = join(tempDir(), 'store.json');
    copyFileSync(demoStoreFile(tempDir()), other);
    const files = order.map((id) => {
      const path = join(s.dir, `${id}.eml`);
      writeFileSync(path, raw(Number(/^eq-(\d+)@/.exec(id)![1])));
      return path;
    });
    const p = await runCli(['process', '--quiet', '--config', s.config, '--store', other, '--now', DEMO_NOW, '--sender', ELLEN, '--recipient', IT, ...files]);
    expect(p.code).toBe(0);
    expect(readFileSync(s.store, 'utf8')).toBe(readFileSync(other, 'utf8'));
  }, 60000);
});

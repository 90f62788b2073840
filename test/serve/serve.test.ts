/**
 * `m4me serve --lmtp` (CONTRACT §8, issue 15) through the built CLI and a real LMTP client
 * (nodemailer's SMTPConnection, lmtp: true): per-recipient replies, RCPT checks, SIZE,
 * dot-stuffing, a client gone mid-DATA, SIGTERM with messages in flight, kill -9 and
 * re-delivery, SIGHUP, the lock per commit beside `process`.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { killLeftovers, lmtpSend, serve, until } from './lmtp.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

function setup(extra: Record<string, unknown> = {}) {
  const dir = tempDir('m4me-serve-');
  const store = demoStoreFile(dir);
  const config = join(dir, 'm4merc.json');
  const write = (more: Record<string, unknown> = {}) => writeFileSync(config, JSON.stringify({
    store, mailDomain: ['mail.4me.com', 'mail.r-service.tech'], aliases: { 'helpdesk@widget.example': 'widget-it@mail.4me.com' }, ...extra, ...more,
  }));
  write();
  const socket = join(dir, 'lmtp.sock');
  return { dir, store, config, socket, write, args: ['--lmtp', `unix:${socket}`, '--config', config, '--now', DEMO_NOW] };
}

const ELLEN = 'ellen.brown@widget.example';

describe('m4me serve --lmtp', () => {
  afterEach(killLeftovers);

  test('one reply per recipient in RCPT order, each as process decides it; 550 5.1.1 at RCPT; dot-stuffing; socket 0660, removed on exit', async () => {
    const s = setup();
    const srv = await serve(s.args);
    expect(statSync(s.socket).mode & 0o777).toBe(0o660);
    const body = 'First line.\n.starts with a dot\n..two dots\n.\nlast line\n';
    const msg = crlf(eml({ id: 'multi@widget.example', subject: 'Printer on floor 3 is broken' }, body));
    const rcpts = ['widget-it@mail.4me.com', 'someone@elsewhere.example', 'nobody@mail.4me.com', 'helpdesk@widget.example'];
    const sent = await lmtpSend(srv.where, ELLEN, rcpts, msg);
    expect(sent.error).toBeNull();
    expect(sent.rejected).toEqual(['someone@elsewhere.example']);
    expect(sent.lines.some((l) => /^550 5\.1\.1 someone@elsewhere\.example /.test(l))).toBe(true);
    // widget-it: new request; nobody@: unknown address (rejected, reply queued); the alias: the
    // same account again, a duplicate of the first (the ledger, in memory within one message).
    expect(sent.dataReplies).toEqual([
      '250 2.0.0 request_created request 100042 (create.new_request)',
      '250 2.0.0 rejected no record (reject.unknown_address)',
      expect.stringMatching(/^250 2\.0\.0 \w+ /),
    ]);

    // The same message through `process`, on a fresh demo store: the same decisions.
    const other = demoStoreFile(tempDir());
    const p = await runCli(['process', '--json', '--config', s.config, '--store', other, '--now', DEMO_NOW, '--sender', ELLEN,
      ...['widget-it@mail.4me.com', 'nobody@mail.4me.com', 'helpdesk@widget.example'].flatMap((r) => ['--recipient', r])], { stdin: msg });
    expect(p.code).toBe(0);
    const expected = jsonLines(p.stdout).map((r) => `250 2.0.0 ${r.outcome} ${r.record ? `${r.record.type} ${r.record.id}` : 'no record'} (${r.rule})`);
    expect(sent.dataReplies).toEqual(expected);

    // Every 250 is in the store already (durable before the reply), the body dot-unstuffed.
    const data = readStore(s.store);
    expect(data.requests.find((r) => r.id === 100042)?.subject).toBe('Printer on floor 3 is broken');
    const note = data.notes.find((n) => n.record?.type === 'request' && n.record.id === 100042);
    expect(note?.text).toBe('First line.\n.starts with a dot\n..two dots\n.\nlast line');
    expect(data.inbound.filter((e) => e.message_id === 'multi@widget.example').length).toBe(3);
    expect(srv.stderr()).toMatch(/from=<ellen\.brown@widget\.example> to=<widget-it@mail\.4me\.com> outcome=request_created rule=create\.new_request record=request\/100042 group=1 ms=\d+/);

    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    expect(existsSync(s.socket)).toBe(false);
  });

  // smtp-server refuses it at RCPT (its address syntax); \`process\` rejects it as no inbound
  // address (test/e2e/long-values.test.ts). Either way it never becomes a ledger key.
  test('a RCPT that is not an address (3,000 characters at the mail domain): refused at RCPT, not echoed; the other recipient delivered', async () => {
    const s = setup();
    const srv = await serve(s.args);
    const long = `${'a'.repeat(3000)}@mail.4me.com`;
    const sent = await lmtpSend(srv.where, ELLEN, [long, 'widget-it@mail.4me.com'], crlf(eml({ id: 'long-rcpt@widget.example' })));
    expect(sent.rejected).toEqual([long]);
    expect(sent.lines).toContainEqual(expect.stringMatching(/^501 .*recipient address syntax/));
    expect(sent.lines.join('\n')).not.toContain('aaaaaaaaaa');
    expect(sent.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('SIZE is maxMessageBytes: a bigger message is refused (552) and nothing is applied; unreadable mail: 554 5.6.0, quarantined', async () => {
    const s = setup({ maxMessageBytes: 3000 });
    const srv = await serve(s.args);
    const big = crlf(eml({ id: 'big@widget.example', subject: 'Large log' }, 'log line\n'.repeat(1000)));
    const declared = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], big, { size: big.length });
    expect(declared.lines.some((l) => l.startsWith('250-SIZE 3000') || l.startsWith('250 SIZE 3000'))).toBe(true);
    // The client, told SIZE 3000 at LHLO, does not even send it.
    expect(declared.error).toMatch(/larger than allowed 3000/);
    const undeclared = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com', 'widget-it@mail.r-service.tech'], big);
    expect(undeclared.dataReplies.map((l) => l.slice(0, 3))).toEqual(['552', '552']);
    expect(readStore(s.store).inbound).toEqual([]);

    const junk = Buffer.from('\u0000\u0001 not mail at all \u00ff\r\n');
    const bad = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], junk);
    expect(bad.dataReplies).toEqual([expect.stringMatching(/^554 5\.6\.0 message could not be read as email: .*quarantined as \d{14}-[0-9a-f]{16}\.eml/)]);
    const list = await runCli(['quarantine', 'list', '--json', '--config', s.config]);
    expect(jsonLines(list.stdout).map((e) => (e as unknown as { status: string }).status)).toEqual(['5.6.0']);

    srv.child.kill('SIGINT');
    expect(await srv.exited).toBe(0);
  });

  test('a client that disconnects mid-DATA: nothing applied; the server goes on', async () => {
    const s = setup();
    const srv = await serve(s.args);
    const stream = new PassThrough();
    const msg = crlf(eml({ id: 'cut@widget.example', subject: 'Cut in two' }, 'a\n'.repeat(2000)));
    const pending = lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], stream);
    stream.write(msg.slice(0, msg.length >> 1));
    await new Promise((r) => setTimeout(r, 300));
    stream.destroy(new Error('client gone'));
    const cut = await pending;
    expect(cut.dataReplies).toEqual([]);
    await until(() => /aborted: the connection closed before the end of DATA/.test(srv.stderr()));
    expect(readStore(s.store).inbound).toEqual([]);
    const next = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'after@widget.example' })));
    expect(next.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('SIGTERM with messages in flight: they are finished and answered, exit 0; every 250 is in the store and nothing else', async () => {
    const s = setup();
    const srv = await serve([...s.args, '--max-connections', '100']);
    const msg = (i: number) => crlf(eml({ id: `term-${i}@widget.example`, subject: `Alert ${i}` }));
    // Three clients half-way through DATA when the signal comes.
    const slow = [0, 1, 2].map((i) => {
      const stream = new PassThrough();
      const text = msg(i);
      stream.write(text.slice(0, text.length >> 1));
      return { stream, rest: text.slice(text.length >> 1), sent: lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], stream) };
    });
    // One client connected (LHLO done) that starts its transaction only after the signal.
    let go = () => undefined as void;
    let connected = false;
    const idle = lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg(98), {
      beforeSend: new Promise<void>((r) => { go = r; }), connected: () => { connected = true; },
    });
    await until(() => connected);
    const n = 40;
    const fast = Array.from({ length: n - 3 }, (_, k) => lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg(k + 3)));
    await until(() => (srv.stderr().match(/outcome=/g) ?? []).length >= 3);
    srv.child.kill('SIGTERM');
    await until(() => /SIGTERM: stopping/.test(srv.stderr()));
    const late = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg(99));
    // No new connection (the socket is gone), or refused: 421 4.3.2.
    expect(late.dataReplies).toEqual([]);
    expect(`${late.error} ${late.lines.join(' ')}`).toMatch(/ENOENT|ECONNREFUSED|421 4\.3\.2/);
    go();
    const refused = await idle;
    expect(refused.lines).toContainEqual(expect.stringMatching(/^421 4\.3\.2 m4me is shutting down/));
    expect(refused.dataReplies).toEqual([]);
    for (const c of slow) c.stream.end(c.rest);
    const results = [...await Promise.all(slow.map((c) => c.sent)), ...await Promise.all(fast)];
    expect(await srv.exited).toBe(0);
    // The messages in flight were finished.
    for (const r of results.slice(0, 3)) expect(r.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 request_created request \d+ /)]);
    const ok = results.map((r, i) => (r.dataReplies[0]?.startsWith('250 ') ? i : -1)).filter((i) => i >= 0);
    const inStore = readStore(s.store).inbound.map((e) => e.message_id);
    expect(inStore.sort()).toEqual(ok.map((i) => `term-${i}@widget.example`).sort());
    expect(existsSync(s.socket)).toBe(false);
  });

  test('kill -9 mid-load, then re-delivery of everything: each message in the store exactly once', async () => {
    const s = setup();
    const env = { M4ME_LOCK_STALE_MS: '2000' };
    const srv = await serve(s.args, env);
    const n = 60;
    const msg = (i: number) => crlf(eml({ id: `k9-${i}@widget.example`, subject: `Storm ${i}` }));
    let answered = 0;
    const first = Array.from({ length: n }, (_, i) => lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg(i))
      .then((r) => { if (r.dataReplies[0]?.startsWith('250 ')) answered++; return r; }));
    // Killed once a few 250s reached their clients, with the rest still coming in.
    await until(() => answered >= 5);
    srv.child.kill('SIGKILL');
    const r1 = await Promise.all(first);
    expect(await srv.exited).toBe('SIGKILL');
    const acked = r1.map((r, i) => (r.dataReplies[0]?.startsWith('250 ') ? i : -1)).filter((i) => i >= 0);
    expect(acked.length).toBeGreaterThanOrEqual(5);
    // Every 250 was durable before it was sent.
    const afterKill = new Set(readStore(s.store).inbound.map((e) => e.message_id));
    for (const i of acked) expect(afterKill.has(`k9-${i}@widget.example`)).toBe(true);

    // The MTA retries everything it has no 250 for, and (to be sure) the rest as well.
    const again = await serve(s.args, env);
    const r2 = [];
    for (let i = 0; i < n; i++) r2.push(await lmtpSend(again.where, ELLEN, ['widget-it@mail.4me.com'], msg(i)));
    for (const r of r2) expect(r.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 (request_created|duplicate) /)]);
    for (const i of acked) expect(r2[i]!.dataReplies[0]).toMatch(/^250 2\.0\.0 duplicate /);
    const data = readStore(s.store);
    for (let i = 0; i < n; i++) {
      expect(data.requests.filter((r) => r.subject === `Storm ${i}`).length).toBe(1);
      expect(data.inbound.filter((e) => e.message_id === `k9-${i}@widget.example`).length).toBe(1);
    }
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 120000);

  test('the lock is per commit: process runs beside serve, and serve reads its change before deciding', async () => {
    const s = setup();
    // An index beside the store that describes no version of it (ignored when read): serve
    // saves a current one when it stops, for the next process.
    writeFileSync(`${s.store}.index`, 'stale\n');
    const srv = await serve(s.args);
    const a = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'one@widget.example', subject: 'One' })));
    expect(a.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    const p = await runCli(['process', '--json', '--config', s.config, '--now', DEMO_NOW, '--recipient', 'widget-it@mail.4me.com'],
      { stdin: eml({ id: 'two@widget.example', subject: 'Two' }) });
    expect(p.code).toBe(0);
    expect(jsonLines(p.stdout)[0]?.record).toEqual({ type: 'request', id: 100043 });
    // Not 100043 again: serve saw the file change and read it again.
    const b = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'three@widget.example', subject: 'Three' })));
    expect(b.dataReplies).toEqual(['250 2.0.0 request_created request 100044 (create.new_request)']);
    // process's message delivered again over LMTP: a duplicate.
    const c = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'two@widget.example', subject: 'Two' })));
    expect(c.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 duplicate request 100043 /)]);
    expect(readStore(s.store).requests.map((r) => r.id).filter((id) => id >= 100042)).toEqual([100042, 100043, 100044]);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    const header = JSON.parse(readFileSync(`${s.store}.index`, 'utf8').split('\n', 1)[0]!) as { stamp: { ino: string; size: string } };
    const st = statSync(s.store);
    expect(header.stamp).toMatchObject({ ino: String(st.ino), size: String(st.size) });
  });

  test('a stream of deliveries keeps serve committing back to back: process beside it still gets the lock and is delivered, every 250 in the store once', async () => {
    const s = setup({ lockTimeoutMs: 5000 });
    const srv = await serve(s.args);
    let stop = false;
    let n = 0;
    const answers: string[] = [];
    // 24 connections (Postfix opens 20 by default), each sending its next message as soon as the
    // last is answered, so most commits find the next messages waiting and keep the lock. (The
    // queue still runs dry now and then: this does not force serve's 2 s bound, KEEP_LOCK_MS.)
    const senders = Array.from({ length: 24 }, async () => {
      while (!stop) {
        const id = `storm-${++n}@widget.example`;
        const r = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id, subject: `Storm ${n}` })));
        answers.push(r.dataReplies[0] ?? r.error ?? '?');
      }
    });
    await until(() => answers.length >= 40, 20000);
    const t0 = Date.now();
    const p = await runCli(['process', '--json', '--config', s.config, '--now', DEMO_NOW, '--recipient', 'widget-it@mail.4me.com'],
      { stdin: eml({ id: 'beside@widget.example', subject: 'Beside the storm' }) });
    const waited = Date.now() - t0;
    stop = true;
    await Promise.all(senders);
    expect({ code: p.code, stderr: p.stderr }).toEqual({ code: 0, stderr: '' });
    expect(waited).toBeLessThan(5000);
    expect(answers.every((a) => /^250 2\.0\.0 request_created /.test(a))).toBe(true);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    const data = readStore(s.store);
    expect(data.requests.filter((r) => r.subject === 'Beside the storm')).toHaveLength(1);
    expect(data.requests.filter((r) => /^Storm \d+$/.test(r.subject))).toHaveLength(answers.length);
  });

  test('store locked past lockTimeoutMs: 451 4.3.0, nothing applied; once free, delivered', async () => {
    const s = setup({ lockTimeoutMs: 300 });
    const srv = await serve(s.args);
    mkdirSync(`${s.store}.lock`);
    const r = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'locked@widget.example' })));
    expect(r.dataReplies).toEqual([expect.stringMatching(/^451 4\.3\.0 store .* is locked by another m4me process/)]);
    expect(readStore(s.store).inbound).toEqual([]);
    rmdirSync(`${s.store}.lock`);
    const r2 = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'locked@widget.example' })));
    expect(r2.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('SIGHUP reads the configuration again; a bad one is refused and the old one kept', async () => {
    const s = setup();
    const srv = await serve(s.args);
    s.write({ mailDomain: ['mail.4me.com'] });
    srv.child.kill('SIGHUP');
    await until(() => /SIGHUP: configuration read again/.test(srv.stderr()), 10000, () => srv.stderr());
    const r = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.r-service.tech'], crlf(eml({})));
    expect(r.lines).toContainEqual(expect.stringMatching(/^550 5\.1\.1 widget-it@mail\.r-service\.tech is not an address of this mail system \(mailDomain: mail\.4me\.com;/));
    writeFileSync(s.config, '{ "mailDomain": 42 }');
    srv.child.kill('SIGHUP');
    await until(() => /SIGHUP: configuration refused, the old one is kept/.test(srv.stderr())).catch((e) => { throw new Error(`${e} ${srv.stderr()}`); });
    const ok = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'hup@widget.example' })));
    expect(ok.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('group commit: messages that arrive while a commit waits are decided in turn and committed together', async () => {
    const s = setup({ lockTimeoutMs: 10000 });
    const srv = await serve(s.args);
    // Another process holds the lock: the first commit waits for it, the others queue behind.
    mkdirSync(`${s.store}.lock`);
    const first = lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'g0@widget.example', subject: 'G 0' })));
    await new Promise((r) => setTimeout(r, 500));
    const rest = [1, 2, 3, 4, 5].map((i) => lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'],
      crlf(eml({ id: `g${i % 5 || 1}@widget.example`, subject: `G ${i % 5 || 1}` }))));
    await new Promise((r) => setTimeout(r, 700));
    expect(srv.stderr()).not.toMatch(/outcome=/); // nothing answered while the store is locked
    rmdirSync(`${s.store}.lock`);
    const r0 = await first;
    const rs = await Promise.all(rest);
    expect(r0.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    // Decided in turn within one commit: the repeat of g1 is a duplicate of the one before it.
    const outcomes = rs.map((r) => r.dataReplies[0]);
    expect(outcomes.filter((o) => /^250 2\.0\.0 request_created /.test(o ?? '')).length).toBe(4);
    expect(outcomes.filter((o) => /^250 2\.0\.0 duplicate /.test(o ?? '')).length).toBe(1);
    // The five that queued behind the waiting commit (and g0 too, when it was not yet waiting) share one.
    const groups = [...srv.stderr().matchAll(/ group=(\d+) /g)].map((m) => Number(m[1]));
    expect(groups).toHaveLength(6);
    expect(Math.max(...groups)).toBeGreaterThanOrEqual(5);
    const data = readStore(s.store);
    expect(data.requests.filter((r) => /^G \d$/.test(r.subject)).length).toBe(5);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });

  test('--data-timeout: a DATA that takes longer is abandoned (421 4.4.2), nothing applied; --idle-timeout closes a silent connection', async () => {
    const s = setup();
    const srv = await serve([...s.args, '--data-timeout', '1', '--idle-timeout', '2']);
    const stream = new PassThrough();
    const msg = crlf(eml({ id: 'slow@widget.example' }));
    const pending = lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], stream);
    stream.write(msg.slice(0, 40));
    // Bytes keep coming (the idle timeout never fires), but DATA as a whole takes too long.
    const drip = setInterval(() => stream.write('x'), 200);
    const r = await pending;
    clearInterval(drip);
    expect(r.lines).toContainEqual(expect.stringMatching(/^421 4\.4\.2 DATA took longer than 1000 ms/));
    expect(r.dataReplies.filter((l) => l.startsWith('250'))).toEqual([]);
    expect(readStore(s.store).inbound).toEqual([]);
    let connected = false;
    const idle = lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg, { connected: () => { connected = true; }, beforeSend: new Promise((res) => setTimeout(res, 3500)) });
    await until(() => connected);
    const ri = await idle;
    expect(ri.lines.some((l) => l.startsWith('421'))).toBe(true);
    expect(readStore(s.store).inbound).toEqual([]);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  }, 30000);

  test('the samples through LMTP get exactly the decisions process makes with the same envelope', async () => {
    const s = setup({ trustedAuthservIds: ['mx.widget.example'] });
    const other = demoStoreFile(tempDir());
    const srv = await serve(s.args);
    const files = readdirSync(join(ROOT, 'samples')).filter((f) => f.endsWith('.eml')).sort();
    expect(files.length).toBeGreaterThan(20);
    let compared = 0;
    for (const f of files) {
      const raw = readFileSync(join(ROOT, 'samples', f), 'utf8');
      const from = /^From:.*?<?([^<>\s]+@[^<>\s]+?)>?\s*$/m.exec(raw)?.[1] ?? '';
      // The recipient process picks from the headers becomes the envelope recipient of both.
      const dry = await runCli(['process', '--json', '--dry-run', '--config', s.config, '--store', other, '--now', DEMO_NOW, join(ROOT, 'samples', f)]);
      const rcpt = jsonLines(dry.stdout)[0]?.recipient;
      if (!rcpt || !/@mail\.(4me\.com|r-service\.tech)$/.test(rcpt)) continue; // refused at RCPT by serve
      const p = await runCli(['process', '--json', '--config', s.config, '--store', other, '--now', DEMO_NOW, '--sender', from, '--recipient', rcpt, join(ROOT, 'samples', f)]);
      expect(p.code).toBe(0);
      const want = jsonLines(p.stdout).map((r) => `250 2.0.0 ${r.outcome} ${r.record ? `${r.record.type} ${r.record.id}` : 'no record'} (${r.rule})`);
      const got = await lmtpSend(srv.where, from, [rcpt], Buffer.from(raw.replace(/\r?\n/g, '\r\n')));
      expect([f, got.dataReplies]).toEqual([f, want]);
      compared++;
    }
    expect(compared).toBeGreaterThan(15);
    // The stores agree on what was created.
    const a = readStore(s.store);
    const b = readStore(other);
    expect(a.requests.map((r) => [r.id, r.subject, r.team])).toEqual(b.requests.map((r) => [r.id, r.subject, r.team]));
    expect(a.notes.map((n) => [n.id, n.text])).toEqual(b.notes.map((n) => [n.id, n.text]));
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  }, 60000);

  test('a 25 MB message: received, decided, answered 250 once it is in the store', async () => {
    const s = setup();
    const srv = await serve(s.args);
    const line = `${'0123456789'.repeat(7)}\r\n`;
    const body = line.repeat(Math.ceil((25 << 20) / line.length));
    const msg = Buffer.from(crlf(eml({ id: 'big25@widget.example', subject: 'Big log' }, '')) + body);
    expect(msg.length).toBeGreaterThan(25 << 20);
    const r = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], msg);
    expect(r.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    const data = readStore(s.store);
    expect(data.requests.find((q) => q.id === 100042)?.subject).toBe('Big log');
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  }, 60000);

  test('start: a bad configuration exits 78 with one line; a non-loopback address needs --listen-any; TCP on 127.0.0.1', async () => {
    const s = setup();
    writeFileSync(s.config, '{ "mailDomain": 42 }');
    const bad = await runCli(['serve', '--lmtp', `unix:${s.socket}`, '--config', s.config]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/^4\.3\.5 m4me: invalid configuration: [^\n]*\n$/);
    s.write();
    // A PostgreSQL store that cannot be reached: one line, the password not in it (test/pg/serve.test.ts serves one).
    const nowhere = `postgresql://m4me:Secret-Nowhere@/m4me?host=${encodeURIComponent(join(s.dir, 'no-such-socket-dir'))}`;
    const pg = await runCli(['serve', '--lmtp', `unix:${s.socket}`, '--config', s.config, '--store', nowhere]);
    expect(pg.code).toBe(78);
    expect(pg.stderr).toMatch(/^4\.3\.0 m4me: store postgresql:\/\/m4me:\*\*\*@[^\n]*cannot reach the server[^\n]*\n$/);
    expect(pg.stderr).not.toContain('Secret-Nowhere');
    const any = await runCli(['serve', '--lmtp', '0.0.0.0:2424', '--config', s.config]);
    expect(any.code).toBe(64);
    expect(any.stderr).toMatch(/not a loopback address; LMTP has no authentication: add --listen-any/);
    const srv = await serve(['--lmtp', '127.0.0.1:0', '--config', s.config, '--now', DEMO_NOW]);
    expect(srv.where).toMatch(/^127\.0\.0\.1:\d+$/);
    const r = await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'tcp@widget.example' })));
    expect(r.dataReplies).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)']);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
  });
});

/**
 * End-to-end through a real Postfix into `m4me serve`: a private Postfix instance
 * (./instance.ts) whose transport table sends mail.4me.com to `m4me serve`, once over
 * `lmtp:inet:127.0.0.1:PORT` and once over `lmtp:unix:PATH` (the README's set-up: the
 * socket mode 0660, Postfix in its group). A temporary failure (the store locked by another
 * process past lockTimeoutMs: 451 4.3.0) is deferred by Postfix; after the fix,
 * `postqueue -f` delivers it exactly once.
 *
 * Needs root and Debian's postfix (test/postfix/setup.sh). Anywhere else it is skipped with
 * a notice; M4ME_SKIP_POSTFIX=1 skips it on purpose.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, readStore } from '../helpers/cli.js';
import { killLeftovers, serve, type Served } from '../serve/lmtp.js';
import { must, PostfixInstance, postfixUnavailable, SBIN } from './instance.js';

const skipReason = postfixUnavailable([]);
if (skipReason) console.warn(`NOTICE: the Postfix LMTP end-to-end test (test/postfix/lmtp.test.ts) is skipped: ${skipReason}`);
const suite = skipReason ? describe.skip : describe;

suite.each(['inet', 'unix'])('Postfix lmtp:%s transport into m4me serve', (kind) => {
  let base = '';
  let store = '';
  let pf: PostfixInstance;
  let srv: Served | null = null;
  let seq = 0;

  async function submit(subject: string): Promise<{ qid: string; id: string }> {
    const id = `lmtp${kind}${++seq}.${Date.now()}@test.m4me`;
    const qid = await pf.submit('ellen.brown@widget.example', 'widget-it@mail.4me.com', eml({ id, subject }, 'Sent through Postfix, over LMTP.\n'), id);
    return { qid, id };
  }

  beforeAll(async () => {
    base = mkdtempSync('/tmp/m4me-postfix-lmtp-');
    chmodSync(base, 0o755);
    pf = new PostfixInstance(base, () => `\n--- serve ---\n${srv?.stderr()}`);
    mkdirSync(join(base, 'm4me'));
    store = demoStoreFile(join(base, 'm4me'));
    const config = join(base, 'm4me', 'm4merc.json');
    writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'], lockTimeoutMs: 500 }));
    let transport: string;
    if (kind === 'unix') {
      const socket = join(base, 'lmtp.sock');
      srv = await serve(['--lmtp', `unix:${socket}`, '--config', config, '--now', DEMO_NOW]);
      // As the README sets it up: the socket is 0660, Postfix's user in its group.
      expect(statSync(socket).mode & 0o777).toBe(0o660);
      chownSync(socket, 0, Number(must('id', ['-g', 'postfix']).trim()));
      transport = `lmtp:unix:${socket}`;
    } else {
      srv = await serve(['--lmtp', '127.0.0.1:0', '--config', config, '--now', DEMO_NOW]);
      transport = `lmtp:inet:127.0.0.1:${srv.where.split(':').pop()}`;
    }
    pf.configure([
      'relay_domains = mail.4me.com',
      `transport_maps = hash:${pf.etc}/transport`,
      // Retry a deferred message soon (the test flushes it anyway).
      'minimal_backoff_time = 1s',
      'maximal_backoff_time = 2s',
      'queue_run_delay = 1s',
    ], ['lmtp      unix  -       -       n       -       -       lmtp']);
    writeFileSync(join(pf.etc, 'transport'), `mail.4me.com ${transport}\n`);
    must(join(SBIN, 'postmap'), ['-c', pf.etc, `hash:${pf.etc}/transport`]);
    await pf.start();
  }, 120_000);

  afterAll(async () => {
    await pf?.stop();
    if (srv) {
      srv.child.kill('SIGTERM');
      await Promise.race([srv.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    killLeftovers();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 60_000);

  test('delivered over LMTP into the store; a locked store defers (4.3.0); after the fix postqueue -f delivers it once', async () => {
    const a = await submit('Printer jams (Postfix, LMTP)');
    const sent = await pf.until(`${a.qid} sent`, () => pf.results(a.qid).find((l) => l.includes('status=sent')));
    expect(sent).toMatch(kind === 'inet' ? /relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, / : /relay=\S+\[\S*\/lmtp\.sock\], /);
    expect(sent).toMatch(/dsn=2\.0\.0, status=sent \(250 2\.0\.0 request_created request 100042 \(create\.new_request\)\)/);
    expect(readStore(store).requests.filter((r) => r.message_id === a.id)).toHaveLength(1);

    // Another process holds the store lock: serve answers 451 4.3.0 and Postfix defers.
    mkdirSync(`${store}.lock`);
    let unlocked = false;
    try {
      const b = await submit('While the store is locked');
      const deferred = await pf.until(`${b.qid} deferred`, () => pf.results(b.qid).find((l) => l.includes('status=deferred')));
      expect(deferred).toMatch(/dsn=4\.3\.0, status=deferred .*4\.3\.0 store .* is locked by another m4me process/);
      expect(readStore(store).inbound.filter((e) => e.message_id === b.id)).toEqual([]);
      rmdirSync(`${store}.lock`);
      unlocked = true;
      must(join(SBIN, 'postqueue'), ['-c', pf.etc, '-f']);
      await pf.until(`${b.qid} sent`, () => pf.results(b.qid).find((l) => l.includes('status=sent')));
      const data = readStore(store);
      expect(data.requests.filter((r) => r.message_id === b.id)).toHaveLength(1);
      expect(data.inbound.filter((e) => e.message_id === b.id)).toHaveLength(1);
      expect(pf.results(b.qid).filter((l) => l.includes('status=sent'))).toHaveLength(1);
      expect(pf.log()).not.toMatch(/status=bounced/);
      expect(await pf.drained()).toEqual([]);
    } finally {
      if (!unlocked) try { rmdirSync(`${store}.lock`); } catch { /* gone */ }
    }
  }, 90_000);
});

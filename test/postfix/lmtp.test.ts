/**
 * End-to-end through a real Postfix into `m4me serve`: a private Postfix instance (own
 * configuration, queue and log under /tmp, no network listener, /etc/postfix untouched)
 * whose transport table sends mail.4me.com to `lmtp:inet:127.0.0.1:PORT`, where the built
 * CLI's `m4me serve` listens. A temporary failure (the store locked by another process past
 * lockTimeoutMs: 451 4.3.0) is deferred by Postfix; after the fix, `postqueue -f` delivers it
 * exactly once.
 *
 * Needs root and Debian's postfix (test/postfix/setup.sh). Anywhere else it is skipped with
 * a notice; M4ME_SKIP_POSTFIX=1 skips it on purpose.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, readStore } from '../helpers/cli.js';
import { killLeftovers, serve, type Served } from '../serve/lmtp.js';

const SBIN = '/usr/sbin';
const TOOLS = ['postfix', 'postconf', 'postmap', 'postqueue', 'postsuper', 'sendmail'];
const WAIT_MS = 30_000;

function run(cmd: string, args: string[], input = ''): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: WAIT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
function must(cmd: string, args: string[], input = ''): string {
  const r = run(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function unavailable(): string | null {
  if (process.env.M4ME_SKIP_POSTFIX === '1') return 'M4ME_SKIP_POSTFIX=1';
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (process.getuid?.() !== 0) return 'not running as root (Postfix must be started as root)';
  const missing = TOOLS.filter((t) => !existsSync(join(SBIN, t)));
  if (missing.length) return `Postfix is not installed (missing ${missing.join(', ')}; test/postfix/setup.sh installs it)`;
  if (run('getent', ['passwd', 'postfix']).code !== 0) return 'no postfix user';
  return null;
}

const skipReason = unavailable();
if (skipReason) console.warn(`NOTICE: the Postfix LMTP end-to-end test (test/postfix/lmtp.test.ts) is skipped: ${skipReason}`);
const suite = skipReason ? describe.skip : describe;

suite('Postfix lmtp: transport into m4me serve', () => {
  let base = '';
  let etc = '';
  let store = '';
  let maillog = '';
  let started = false;
  let srv: Served | null = null;
  let seq = 0;

  const postfix = (...args: string[]) => run(join(SBIN, 'postfix'), ['-c', etc, ...args]);
  const log = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const queue = () => must(join(SBIN, 'postqueue'), ['-c', etc, '-j']).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { queue_id: string; queue_name: string });
  async function until<T>(what: string, probe: () => T | undefined | null | false): Promise<T> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- maillog ---\n${log().split('\n').slice(-20).join('\n')}\n--- serve ---\n${srv?.stderr()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const results = (qid: string) => log().split('\n').filter((l) => l.includes(` ${qid}: to=<`) && / status=/.test(l));
  async function submit(subject: string): Promise<{ qid: string; id: string }> {
    const id = `lmtp${++seq}.${Date.now()}@test.m4me`;
    must(join(SBIN, 'sendmail'), ['-C', etc, '-i', '-f', 'ellen.brown@widget.example', '--', 'widget-it@mail.4me.com'], eml({ id, subject }, 'Sent through Postfix, over LMTP.\n'));
    const qid = await until(`Postfix to queue <${id}>`, () => new RegExp(`\\b([0-9A-Za-z]+): message-id=<${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`).exec(log())?.[1]);
    return { qid, id };
  }

  beforeAll(async () => {
    base = mkdtempSync('/tmp/m4me-postfix-lmtp-');
    chmodSync(base, 0o755);
    etc = join(base, 'etc');
    maillog = join(base, 'maillog');
    for (const d of [etc, join(base, 'queue'), join(base, 'data'), join(base, 'm4me')]) mkdirSync(d, { recursive: true });
    chownSync(join(base, 'data'), Number(must('id', ['-u', 'postfix']).trim()), 0);
    store = demoStoreFile(join(base, 'm4me'));
    const config = join(base, 'm4me', 'm4merc.json');
    writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'], lockTimeoutMs: 500 }));
    srv = await serve(['--lmtp', '127.0.0.1:0', '--config', config, '--now', DEMO_NOW]);
    const port = srv.where.split(':').pop();

    writeFileSync(join(etc, 'main.cf'), [
      'compatibility_level = 3.6',
      `queue_directory = ${base}/queue`,
      `data_directory = ${base}/data`,
      `maillog_file_prefixes = ${base}`,
      `maillog_file = ${maillog}`,
      'myhostname = mx.m4me.test',
      'mydomain = m4me.test',
      'mydestination = $myhostname, localhost',
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'enable_long_queue_ids = yes',
      'relay_domains = mail.4me.com',
      `transport_maps = hash:${etc}/transport`,
      // Retry a deferred message soon (the test flushes it anyway).
      'minimal_backoff_time = 1s',
      'maximal_backoff_time = 2s',
      'queue_run_delay = 1s',
      'default_transport = retry:4.4.1 no mail leaves the m4me Postfix test',
      '',
    ].join('\n'));
    writeFileSync(join(etc, 'master.cf'), [
      'pickup    unix  n       -       n       60      1       pickup',
      'cleanup   unix  n       -       n       -       0       cleanup',
      'qmgr      unix  n       -       n       300     1       qmgr',
      'rewrite   unix  -       -       n       -       -       trivial-rewrite',
      'bounce    unix  -       -       n       -       0       bounce',
      'defer     unix  -       -       n       -       0       bounce',
      'trace     unix  -       -       n       -       0       bounce',
      'flush     unix  n       -       n       1000?   0       flush',
      'proxymap  unix  -       -       n       -       -       proxymap',
      'showq     unix  n       -       n       -       -       showq',
      'error     unix  -       -       n       -       -       error',
      'retry     unix  -       -       n       -       -       error',
      'anvil     unix  -       -       n       -       1       anvil',
      'scache    unix  -       -       n       -       1       scache',
      'postlog   unix-dgram n  -       n       -       1       postlogd',
      'lmtp      unix  -       -       n       -       -       lmtp',
      '',
    ].join('\n'));
    writeFileSync(join(etc, 'transport'), `mail.4me.com lmtp:inet:127.0.0.1:${port}\n`);
    must(join(SBIN, 'postmap'), ['-c', etc, `hash:${etc}/transport`]);
    must(join(SBIN, 'postfix'), ['-c', etc, 'check']);
    const start = postfix('start');
    started = true;
    if (start.code !== 0) throw new Error(`postfix start failed: ${start.stderr}\n${log()}`);
    await until('the Postfix master to run', () => postfix('status').code === 0 && log().includes('daemon started'));
  }, 120_000);

  afterAll(async () => {
    if (started) {
      if (postfix('stop').code !== 0) postfix('abort');
      const end = Date.now() + WAIT_MS;
      while (postfix('status').code === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    }
    if (srv) {
      srv.child.kill('SIGTERM');
      await Promise.race([srv.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    killLeftovers();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 60_000);

  test('delivered over LMTP into the store; a locked store defers (4.3.0); after the fix postqueue -f delivers it once', async () => {
    const a = await submit('Printer jams (Postfix, LMTP)');
    const sent = await until(`${a.qid} sent`, () => results(a.qid).find((l) => l.includes('status=sent')));
    expect(sent).toMatch(/relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 request_created request 100042 \(create\.new_request\)\)/);
    expect(readStore(store).requests.filter((r) => r.message_id === a.id)).toHaveLength(1);

    // Another process holds the store lock: serve answers 451 4.3.0 and Postfix defers.
    mkdirSync(`${store}.lock`);
    let unlocked = false;
    try {
      const b = await submit('While the store is locked');
      const deferred = await until(`${b.qid} deferred`, () => results(b.qid).find((l) => l.includes('status=deferred')));
      expect(deferred).toMatch(/dsn=4\.3\.0, status=deferred .*4\.3\.0 store .* is locked by another m4me process/);
      expect(readStore(store).inbound.filter((e) => e.message_id === b.id)).toEqual([]);
      rmdirSync(`${store}.lock`);
      unlocked = true;
      must(join(SBIN, 'postqueue'), ['-c', etc, '-f']);
      await until(`${b.qid} sent`, () => results(b.qid).find((l) => l.includes('status=sent')));
      const data = readStore(store);
      expect(data.requests.filter((r) => r.message_id === b.id)).toHaveLength(1);
      expect(data.inbound.filter((e) => e.message_id === b.id)).toHaveLength(1);
      expect(results(b.qid).filter((l) => l.includes('status=sent'))).toHaveLength(1);
      expect(log()).not.toMatch(/status=bounced/);
      const end = Date.now() + 10_000;
      while (queue().length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      expect(queue()).toEqual([]);
    } finally {
      if (!unlocked) try { rmdirSync(`${store}.lock`); } catch { /* gone */ }
    }
  }, 90_000);
});

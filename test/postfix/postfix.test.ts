/**
 * End-to-end through a real Postfix: the README's pipe(8) transport, transport
 * table and aliases(5) entry, taken from README.md, run by a private Postfix
 * instance (own configuration, queue and log folder under /tmp; no network
 * listener, /etc/postfix untouched) against a store owned by an unprivileged
 * user. Messages go in with Postfix's sendmail(1).
 *
 * Needs root and Debian's postfix (test/postfix/setup.sh, called by .ci/run,
 * installs it when it can). Anywhere else the suite is skipped with a notice.
 * Set M4ME_SKIP_POSTFIX=1 to skip it on purpose.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eml, readStore, runCli } from '../helpers/cli.js';

const SBIN = '/usr/sbin';
const TOOLS = ['postfix', 'postconf', 'postmap', 'postalias', 'postqueue', 'postsuper', 'sendmail'];
const USER = 'm4me';
const USER_COMMENT = 'm4me Postfix test';
/** Every wait is bounded by this. */
const WAIT_MS = 30_000;

interface Cmd { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): Cmd {
  const r = spawnSync(cmd, args, { input: opts.input ?? '', cwd: opts.cwd, encoding: 'utf8', timeout: WAIT_MS, env: { PATH: `/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function must(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}`);
  return r.stdout;
}

/** Why this machine cannot run the test, or null. */
function unavailable(): string | null {
  if (process.env.M4ME_SKIP_POSTFIX === '1') return 'M4ME_SKIP_POSTFIX=1';
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (process.getuid?.() !== 0) return 'not running as root (Postfix must be started as root)';
  const missing = TOOLS.filter((t) => !existsSync(join(SBIN, t)));
  if (missing.length) return `Postfix is not installed (missing ${missing.map((t) => join(SBIN, t)).join(', ')}; test/postfix/setup.sh installs it as root on Debian)`;
  if (run('getent', ['passwd', 'postfix']).code !== 0) return 'no postfix user';
  if (!existsSync(join(SBIN, 'runuser'))) return 'no runuser';
  if (run('getent', ['passwd', USER]).code !== 0 && !existsSync(join(SBIN, 'useradd'))) return `no user ${USER} and no useradd`;
  return null;
}

const skipReason = unavailable();
if (skipReason) console.warn(`NOTICE: the Postfix end-to-end test (test/postfix) is skipped: ${skipReason}`);
const suite = skipReason ? describe.skip : describe;

/** The README's Postfix snippets, with the installation paths of this checkout. */
function readmeSnippets(): { masterCf: string; transport: string; alias: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const masterCf = /^m4me[ \t]+unix[ \t].*\bpipe\n(?:[ \t]+\S.*\n)+/m.exec(readme)?.[0];
  const transport = /^mail\.4me\.com[ \t]+m4me:[ \t]*$/m.exec(readme)?.[0];
  const alias = /^m4me:[ \t]*"\|.*"[ \t]*$/m.exec(readme)?.[0];
  if (!masterCf || !transport || !alias) throw new Error('README.md lacks the master.cf entry, the transport line or the alias entry of "Running from a mail server"');
  if (!/^m4me_destination_recipient_limit = 1$/m.test(readme)) throw new Error('README.md lacks m4me_destination_recipient_limit = 1');
  if (!masterCf.includes('flags=Rq user=m4me argv=/usr/bin/node /opt/m4me/bin/m4me.js process --config /etc/m4me/m4merc.json --recipient ${recipient} --sender ${sender}')) {
    throw new Error(`README.md's master.cf entry changed: ${masterCf}`);
  }
  return { masterCf, transport, alias };
}

suite('Postfix end to end (README transport and alias)', () => {
  let base = '';
  let etc = '';
  let store = '';
  let storeDir = '';
  let config = '';
  let maillog = '';
  let node = process.execPath;
  let app = ROOT;
  let createdUser = false;
  let started = false;
  let uid = -1;
  let seq = 0;

  const postfix = (...args: string[]) => run(join(SBIN, 'postfix'), ['-c', etc, ...args]);
  const log = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const queue = (): Array<{ queue_name: string; queue_id: string; sender: string; recipients: Array<{ address: string; delay_reason?: string }> }> =>
    must(join(SBIN, 'postqueue'), ['-c', etc, '-j']).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const outbox = () => (existsSync(`${store}.outbox`) ? readdirSync(`${store}.outbox`).filter((f) => f.endsWith('.eml')) : []);
  const deliveriesToM4me = () => log().split('\n').filter((l) => / status=sent /.test(l) && /relay=(m4me|local)/.test(l)).length;
  const asUser = (args: string[], input = '') => run(join(SBIN, 'runuser'), ['-u', USER, '--', ...args], { input, cwd: base });

  async function until<T>(what: string, probe: () => T | undefined | null | false): Promise<T> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for ${what}\n--- maillog ---\n${log().split('\n').slice(-25).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Submits with sendmail(1); resolves with the queue ID Postfix gave it. */
  async function submit(opts: { from: string; to: string; headers: Parameters<typeof eml>[0]; body?: string }): Promise<{ qid: string; id: string }> {
    const id = opts.headers.id ?? `pf${++seq}.${Date.now()}@test.m4me`;
    const message = eml({ ...opts.headers, id }, opts.body ?? 'Sent through Postfix.\n');
    must(join(SBIN, 'sendmail'), ['-C', etc, '-i', '-f', opts.from, '--', opts.to], { input: message });
    const qid = await until(`Postfix to queue <${id}>`, () => new RegExp(`\\b([0-9A-Za-z]+): message-id=<${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`).exec(log())?.[1]);
    return { qid, id };
  }

  /** Waits (bounded) for the queue to drain, then shows what is left, if anything. */
  async function expectEmptyQueue(): Promise<void> {
    const end = Date.now() + 10_000;
    while (queue().length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    expect(queue()).toEqual([]);
  }

  /** Waits until qmgr has moved a message to the deferred queue (the log line comes first). */
  const waitDeferred = (qid: string) => until(`${qid} in the deferred queue`, () => queue().find((q) => q.queue_id === qid && q.queue_name === 'deferred'));

  /** The delivery results Postfix logged for a queue ID (status=sent/deferred/bounced lines). */
  const results = (qid: string) => log().split('\n').filter((l) => l.includes(` ${qid}: to=<`) && / status=/.test(l));
  const waitResult = (qid: string, status: string, count = 1) =>
    until(`${qid} status=${status} (${count}x)`, () => (results(qid).filter((l) => l.includes(` status=${status} `)).length >= count ? results(qid) : null));

  beforeAll(async () => {
    const snippets = readmeSnippets();
    base = mkdtempSync('/tmp/m4me-postfix-');
    chmodSync(base, 0o755);
    etc = join(base, 'etc');
    storeDir = join(base, 'm4me');
    store = join(storeDir, 'm4me-store.json');
    config = join(storeDir, 'm4merc.json');
    maillog = join(base, 'maillog');
    for (const d of [etc, join(base, 'queue'), join(base, 'data'), storeDir]) mkdirSync(d, { recursive: true });

    // A user this test created (now, or in a run that was killed) is removed at the end.
    const passwd = run('getent', ['passwd', USER]);
    if (passwd.code !== 0) must(join(SBIN, 'useradd'), ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', USER_COMMENT, USER]);
    createdUser = passwd.code !== 0 || passwd.stdout.split(':')[4] === USER_COMMENT;
    uid = Number(must('id', ['-u', USER]).trim());
    const gid = Number(must('id', ['-g', USER]).trim());
    const postfixUid = Number(must('id', ['-u', 'postfix']).trim());
    chownSync(join(base, 'data'), postfixUid, 0);

    // The m4me user must be able to run this checkout; when it lives somewhere
    // private (e.g. under /root), run a copy of the built program instead.
    const runs = () => asUser([node, join(app, 'bin', 'm4me.js'), '--version']).code === 0;
    if (!runs()) {
      app = join(base, 'app');
      mkdirSync(app);
      for (const p of ['bin', 'dist', 'node_modules', 'package.json']) cpSync(join(ROOT, p), join(app, p), { recursive: true });
      if (!runs()) {
        node = join(app, 'node');
        cpSync(process.execPath, node);
        chmodSync(node, 0o755);
      }
      if (!runs()) throw new Error(`user ${USER} cannot run ${node} ${join(app, 'bin', 'm4me.js')}: ${asUser([node, join(app, 'bin', 'm4me.js'), '--version']).stderr}`);
    }

    // The store: the demo data, owned by the m4me user.
    const init = await runCli(['init', '--demo', '--store', store, '--quiet']);
    expect(init.code).toBe(0);
    writeFileSync(config, JSON.stringify({
      store: './m4me-store.json',
      mailDomain: ['mail.4me.com', 'mail.r-service.tech'],
      sendmail: `${SBIN}/sendmail -C ${etc} -t -i -f <>`,
    }, null, 2));
    must('chown', ['-R', `${uid}:${gid}`, storeDir]);

    const local = (s: string) => s
      .replaceAll('/usr/bin/node', node)
      .replaceAll('/opt/m4me', app)
      .replaceAll('/etc/m4me/m4merc.json', config);
    writeFileSync(join(etc, 'main.cf'), [
      'compatibility_level = 3.6',
      `queue_directory = ${base}/queue`,
      `data_directory = ${base}/data`,
      `maillog_file_prefixes = ${base}`,
      `maillog_file = ${maillog}`,
      'myhostname = mx.m4me.test',
      'mydomain = m4me.test',
      'myorigin = $myhostname',
      'mydestination = $myhostname, localhost',
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      'enable_long_queue_ids = yes',
      'biff = no',
      // README: the pipe(8) transport for mail.4me.com
      'relay_domains = mail.4me.com',
      `transport_maps = hash:${etc}/transport`,
      'm4me_destination_recipient_limit = 1',
      // README: the aliases(5) route, here for the second domain
      `alias_maps = hash:${etc}/m4me-aliases`,
      `alias_database = hash:${etc}/m4me-aliases`,
      'virtual_alias_domains = mail.r-service.tech',
      `virtual_alias_maps = hash:${etc}/virtual`,
      // Nothing leaves this machine: other mail waits in the queue, visibly.
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
      'verify    unix  -       -       n       -       1       verify',
      'flush     unix  n       -       n       1000?   0       flush',
      'proxymap  unix  -       -       n       -       -       proxymap',
      'showq     unix  n       -       n       -       -       showq',
      'error     unix  -       -       n       -       -       error',
      'retry     unix  -       -       n       -       -       error',
      'discard   unix  -       -       n       -       -       discard',
      'local     unix  -       n       n       -       -       local',
      'anvil     unix  -       -       n       -       1       anvil',
      'scache    unix  -       -       n       -       1       scache',
      'postlog   unix-dgram n  -       n       -       1       postlogd',
      local(snippets.masterCf).trimEnd(),
      '',
    ].join('\n'));
    writeFileSync(join(etc, 'transport'), `${snippets.transport}\nelsewhere.example error:5.1.2 elsewhere.example does not exist (m4me test)\n`);
    writeFileSync(join(etc, 'virtual'), '@mail.r-service.tech   m4me@localhost\n');
    writeFileSync(join(etc, 'm4me-aliases'), `${local(snippets.alias)}\n`);
    must(join(SBIN, 'postmap'), ['-c', etc, `hash:${etc}/transport`]);
    must(join(SBIN, 'postmap'), ['-c', etc, `hash:${etc}/virtual`]);
    must(join(SBIN, 'postalias'), ['-c', etc, `hash:${etc}/m4me-aliases`]);
    must('chown', [String(uid), join(etc, 'm4me-aliases'), join(etc, 'm4me-aliases.db')]);

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
      const pidFile = join(base, 'queue', 'pid', 'master.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
      if (pid > 0 && postfix('status').code === 0) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    if (base) rmSync(base, { recursive: true, force: true });
    if (createdUser) {
      // userdel refuses while a process of the user still runs (a delivery ending).
      let del = run(join(SBIN, 'userdel'), [USER]);
      const end = Date.now() + WAIT_MS;
      while (del.code !== 0 && run('getent', ['passwd', USER]).code === 0 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        del = run(join(SBIN, 'userdel'), [USER]);
      }
      if (run('getent', ['passwd', USER]).code === 0) console.warn(`NOTICE: could not remove the user ${USER} the Postfix test created: ${del.stderr.trim()}`);
      else if (run('getent', ['group', USER]).code === 0) run(join(SBIN, 'groupdel'), [USER]);
    }
  }, 90_000);

  // Each test starts from an empty queue, so one failure does not fail the rest.
  beforeEach(() => {
    if (started && queue().length) must(join(SBIN, 'postsuper'), ['-c', etc, '-d', 'ALL']);
  });

  test('mail to the inbound domain goes through the pipe(8) transport into the store', async () => {
    const { qid, id } = await submit({ from: 'ellen.brown@widget.example', to: 'widget-it@mail.4me.com', headers: { subject: 'Printer on floor 3 jams (via Postfix)' } });
    const lines = await waitResult(qid, 'sent');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('relay=m4me');
    const data = readStore(store);
    const requests = data.requests.filter((r) => r.message_id === id);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ account: 'widget-it', subject: 'Printer on floor 3 jams (via Postfix)', source: 'Email', sourceID: id });
    expect(data.inbound.filter((e) => e.message_id === id)).toEqual([expect.objectContaining({ recipient: 'widget-it@mail.4me.com', outcome: 'request_created' })]);
    await expectEmptyQueue();
    expect(statSync(store).uid).toBe(uid); // written by the unprivileged user, as pipe(8) ran it
  });

  test('an unusable store defers the message (exit 75); after the fix postqueue -f delivers it exactly once', async () => {
    const saved = `${store}.saved`;
    renameSync(store, saved);
    mkdirSync(store); // the store file is now a directory: m4me exits 75 (4.3.5)
    let fixed = false;
    try {
      const { qid, id } = await submit({ from: 'ellen.brown@widget.example', to: 'widget-it@mail.4me.com', headers: { subject: 'Deferred while the store is broken' } });
      const lines = await waitResult(qid, 'deferred');
      expect(lines.some((l) => l.includes('status=sent'))).toBe(false);
      expect(lines[0]).toMatch(/dsn=4\.3\.5, status=deferred/); // the status code of m4me's line
      const deferred = await waitDeferred(qid);
      expect(queue()).toHaveLength(1);
      expect(deferred).toMatchObject({ queue_name: 'deferred', queue_id: qid, sender: 'ellen.brown@widget.example' });
      expect(deferred.recipients[0]!.delay_reason).toMatch(/^(4\.3\.5 )?m4me: store .* is not a file/);
      expect(log()).not.toMatch(/status=bounced/);

      rmSync(store, { recursive: true });
      renameSync(saved, store);
      fixed = true;
      must(join(SBIN, 'postqueue'), ['-c', etc, '-f']);
      await waitResult(qid, 'sent');
      await expectEmptyQueue();
      must(join(SBIN, 'postqueue'), ['-c', etc, '-f']); // nothing left to deliver twice
      await new Promise((r) => setTimeout(r, 1000));
      expect(results(qid).filter((l) => l.includes('status=sent'))).toHaveLength(1);
      const data = readStore(store);
      expect(data.requests.filter((r) => r.message_id === id)).toHaveLength(1);
      expect(data.inbound.filter((e) => e.message_id === id)).toHaveLength(1);
    } finally {
      if (!fixed) {
        rmSync(store, { recursive: true, force: true });
        if (existsSync(saved)) renameSync(saved, store);
      }
    }
  });

  test('a store folder the m4me user cannot write defers too, and is delivered after the fix', async () => {
    chownSync(storeDir, 0, 0); // root-owned 0755: no lock file, no atomic write
    let fixed = false;
    try {
      const { qid, id } = await submit({ from: 'ellen.brown@widget.example', to: 'widget-it@mail.4me.com', headers: { subject: 'Deferred while the store folder is read-only' } });
      await waitResult(qid, 'deferred');
      expect((await waitDeferred(qid)).recipients[0]!.delay_reason).toMatch(/^(4\.3\.0 )?m4me: cannot lock store .*permission denied/);
      expect(queue().map((q) => q.queue_id)).toEqual([qid]);
      expect(readStore(store).inbound.some((e) => e.message_id === id)).toBe(false);

      chownSync(storeDir, uid, 0);
      fixed = true;
      must(join(SBIN, 'postqueue'), ['-c', etc, '-f']);
      await waitResult(qid, 'sent');
      await expectEmptyQueue();
      expect(readStore(store).requests.filter((r) => r.message_id === id)).toHaveLength(1);
    } finally {
      if (!fixed) chownSync(storeDir, uid, 0);
    }
  });

  test('an unknown sender is rejected with an Email Rejected reply in the outbox, and nothing bounces', async () => {
    const before = outbox();
    const { qid, id } = await submit({ from: 'stranger@elsewhere.example', to: 'widget-it@mail.4me.com', headers: { from: 'A Stranger <stranger@elsewhere.example>', subject: 'Who reads this?' } });
    const lines = await waitResult(qid, 'sent');
    expect(lines).toHaveLength(1);
    expect(readStore(store).inbound.filter((e) => e.message_id === id)).toEqual([expect.objectContaining({ outcome: 'rejected', rule: 'reject.unknown_sender' })]);
    const added = outbox().filter((f) => !before.includes(f));
    expect(added).toHaveLength(1);
    const reply = readFileSync(join(`${store}.outbox`, added[0]!), 'utf8');
    expect(reply).toMatch(/^To: stranger@elsewhere\.example$/m);
    expect(reply).toMatch(/^Subject: Email Rejected: Who reads this\?$/m);
    expect(reply).toMatch(/^Auto-Submitted: auto-replied$/m);
    await expectEmptyQueue();
    expect(log()).not.toMatch(/status=bounced|sender non-delivery notification/);
  });

  test('a bounce sent to the inbound address gets no reply: the loop stops at m4me', async () => {
    const before = outbox();
    const { qid, id } = await submit({
      from: '<>',
      to: 'widget-it@mail.4me.com',
      headers: {
        from: 'Mail Delivery System <MAILER-DAEMON@elsewhere.example>',
        subject: 'Undelivered Mail Returned to Sender',
        headers: ['Auto-Submitted: auto-replied'],
      },
      body: 'Your message could not be delivered.\n',
    });
    await waitResult(qid, 'sent');
    expect(readStore(store).inbound.filter((e) => e.message_id === id)).toHaveLength(1);
    expect(outbox().filter((f) => !before.includes(f))).toEqual([]);
    await expectEmptyQueue();
    expect(log()).not.toMatch(/status=bounced|sender non-delivery notification/);
  });

  test('aliases(5) via local(8): ORIGINAL_RECIPIENT and the From_ line, no options, run as the alias table owner', async () => {
    const { qid, id } = await submit({ from: 'ellen.brown@widget.example', to: 'widget-it@mail.r-service.tech', headers: { to: 'widget-it@mail.r-service.tech', subject: 'Through the alias' } });
    const lines = await waitResult(qid, 'sent');
    expect(lines[0]).toContain('relay=local');
    expect(lines[0]).toContain('orig_to=<widget-it@mail.r-service.tech>');
    const data = readStore(store);
    expect(data.inbound.filter((e) => e.message_id === id)).toEqual([expect.objectContaining({ recipient: 'widget-it@mail.r-service.tech', outcome: 'request_created' })]);
    expect(data.requests.filter((r) => r.message_id === id)).toHaveLength(1);
    expect(statSync(store).uid).toBe(uid);
    await expectEmptyQueue();
  });

  test('outbox --send hands the replies to Postfix with a null envelope sender, so an undeliverable reply does not bounce back', async () => {
    const rejected = outbox().filter((f) => f.includes('email_rejected'));
    expect(rejected.length).toBeGreaterThan(0);
    const before = deliveriesToM4me();
    const sent = await runCli(['outbox', '--send', '--json', '--config', config]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const items = sent.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { to: string; kind: string; status: string });
    expect(items.filter((i) => i.kind === 'email_rejected')).toEqual([expect.objectContaining({ to: 'stranger@elsewhere.example', status: 'sent' })]);
    // The reply to stranger@elsewhere.example is refused for good (error:5.1.2):
    // it bounces, and a bounce of null-sender mail is dropped, not sent anywhere.
    const bounced = await until('the Email Rejected reply to bounce', () => log().split('\n').find((l) => l.includes('to=<stranger@elsewhere.example>') && l.includes('status=bounced')));
    const qid = /\b([0-9A-Za-z]+): to=</.exec(bounced)![1]!;
    expect(log()).toMatch(new RegExp(`${qid}: from=<>,`));
    await new Promise((r) => setTimeout(r, 1500));
    expect(log()).not.toMatch(/sender non-delivery notification/);
    // The acknowledgements wait in the queue (nothing leaves this instance), from MAILER-DAEMON.
    const acks = items.filter((i) => i.kind !== 'email_rejected').length;
    const queued = await until(`${acks} acknowledgements in the queue`, () => { const q = queue(); return q.length === acks ? q : null; });
    for (const q of queued) expect(q.sender).toBe('MAILER-DAEMON'); // postqueue's name for the null sender
    must(join(SBIN, 'postsuper'), ['-c', etc, '-d', 'ALL']);
    // Nothing came back to m4me.
    expect(deliveriesToM4me()).toBe(before);
  });
});

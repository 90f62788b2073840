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
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eml, readStore, runCli } from '../helpers/cli.js';
import { must, PostfixInstance, postfixUnavailable, run, SBIN, WAIT_MS } from './instance.js';

const USER = 'm4me';
const USER_COMMENT = 'm4me Postfix test';

/** Why this machine cannot run the test, or null. */
function unavailable(): string | null {
  const postfix = postfixUnavailable(['postalias']);
  if (postfix) return postfix;
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
  let node = process.execPath;
  let app = ROOT;
  let createdUser = false;
  let pf: PostfixInstance | null = null;
  let uid = -1;
  let seq = 0;

  const log = () => pf?.log() ?? '';
  const queue = () => pf!.queue();
  const outbox = () => (existsSync(`${store}.outbox`) ? readdirSync(`${store}.outbox`).filter((f) => f.endsWith('.eml')) : []);
  const deliveriesToM4me = () => log().split('\n').filter((l) => / status=sent /.test(l) && /relay=(m4me|local)/.test(l)).length;
  const asUser = (args: string[], input = '') => run(join(SBIN, 'runuser'), ['-u', USER, '--', ...args], { input, cwd: base });
  const until = <T>(what: string, probe: () => T | undefined | null | false) => pf!.until(what, probe);

  /** Submits with sendmail(1); resolves with the queue ID Postfix gave it. */
  async function submit(opts: { from: string; to: string; headers: Parameters<typeof eml>[0]; body?: string }): Promise<{ qid: string; id: string }> {
    const id = opts.headers.id ?? `pf${++seq}.${Date.now()}@test.m4me`;
    const qid = await pf!.submit(opts.from, opts.to, eml({ ...opts.headers, id }, opts.body ?? 'Sent through Postfix.\n'), id);
    return { qid, id };
  }

  /** Waits (bounded) for the queue to drain, then shows what is left, if anything. */
  async function expectEmptyQueue(): Promise<void> {
    expect(await pf!.drained()).toEqual([]);
  }

  /** Waits until qmgr has moved a message to the deferred queue (the log line comes first). */
  const waitDeferred = (qid: string) => until(`${qid} in the deferred queue`, () => queue().find((q) => q.queue_id === qid && q.queue_name === 'deferred'));

  const results = (qid: string) => pf!.results(qid);
  const waitResult = (qid: string, status: string, count = 1) =>
    until(`${qid} status=${status} (${count}x)`, () => (results(qid).filter((l) => l.includes(` status=${status} `)).length >= count ? results(qid) : null));

  beforeAll(async () => {
    const snippets = readmeSnippets();
    base = mkdtempSync('/tmp/m4me-postfix-');
    chmodSync(base, 0o755);
    pf = new PostfixInstance(base);
    etc = pf.etc;
    storeDir = join(base, 'm4me');
    store = join(storeDir, 'm4me-store.json');
    config = join(storeDir, 'm4merc.json');
    mkdirSync(storeDir);

    // A user this test created (now, or in a run that was killed) is removed at the end.
    const passwd = run('getent', ['passwd', USER]);
    if (passwd.code !== 0) must(join(SBIN, 'useradd'), ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', USER_COMMENT, USER]);
    createdUser = passwd.code !== 0 || passwd.stdout.split(':')[4] === USER_COMMENT;
    uid = Number(must('id', ['-u', USER]).trim());
    const gid = Number(must('id', ['-g', USER]).trim());

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
    pf.configure([
      'myorigin = $myhostname',
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
    ], [
      'verify    unix  -       -       n       -       1       verify',
      'discard   unix  -       -       n       -       -       discard',
      'local     unix  -       n       n       -       -       local',
      local(snippets.masterCf).trimEnd(),
    ]);
    writeFileSync(join(etc, 'transport'), `${snippets.transport}\nelsewhere.example error:5.1.2 elsewhere.example does not exist (m4me test)\n`);
    writeFileSync(join(etc, 'virtual'), '@mail.r-service.tech   m4me@localhost\n');
    writeFileSync(join(etc, 'm4me-aliases'), `${local(snippets.alias)}\n`);
    must(join(SBIN, 'postmap'), ['-c', etc, `hash:${etc}/transport`]);
    must(join(SBIN, 'postmap'), ['-c', etc, `hash:${etc}/virtual`]);
    must(join(SBIN, 'postalias'), ['-c', etc, `hash:${etc}/m4me-aliases`]);
    must('chown', [String(uid), join(etc, 'm4me-aliases'), join(etc, 'm4me-aliases.db')]);

    await pf.start();
  }, 120_000);

  afterAll(async () => {
    await pf?.stop();
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
    if (pf?.running && queue().length) must(join(SBIN, 'postsuper'), ['-c', etc, '-d', 'ALL']);
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

/**
 * RFC 3834 loop protection, through the CLI: no 'Email Rejected' reply and no acknowledgement
 * goes to mail that is itself automatic, a bounce, or one of m4me's own messages come back,
 * and no address gets more than maxAutoRepliesPerDay. The outbox folder is checked each time.
 */
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import type { StoreData } from '../../src/store/schema.js';
import { message, multipart, outbox, processMessage, text, type Processed } from '../helpers/mime.js';

const STRANGER = 'Mallory <mallory@stranger.example>';
const ELLEN = 'Ellen Brown <ellen.brown@widget.example>';

let n = 0;
const mail = (from: string, headers: string[], subject = 'Help please') =>
  message({ id: `loop-${++n}@${from.includes('stranger') ? 'stranger' : 'widget'}.example`, from, subject, headers }, text('Something is broken.'));

const recipients = (p: { store: string }) => outbox(p.store).map((m) => /^To: (.*)\r$/m.exec(m.text)![1]);

/**
 * A rejected message that got no reply, for the reason given. Mail of the mail system itself
 * (bounces, MAILER-DAEMON) may be refused before the sender is looked up (`reject.mail_system`).
 */
function expectRejectedSilently(p: Processed, why: RegExp, rules = ['reject.unknown_sender']): void {
  expect(p.run.code).toBe(0);
  expect(p.line).toMatchObject({ outcome: 'rejected', rejection: { template: 'email_rejected', to: null } });
  expect(rules).toContain(p.line.rule);
  expect(p.line.trace).toContainEqual({ rule: 'reply.loop_protection', result: 'skipped', detail: expect.stringMatching(why) });
  expect(p.line.trace.some((t) => t.rule === 'reply.email_rejected')).toBe(false);
  expect(outbox(p.store)).toEqual([]);
  const data = readStore(p.store);
  expect(data.auto_replies).toEqual([]);
  expect(data.inbound).toHaveLength(1);
}

const BOUNCE_RULES = ['reject.unknown_sender', 'reject.mail_system'];

/** From a known person: no automatic mail, whether a request was created or the bounce refused. */
function expectNoReply(p: Processed, why: RegExp): void {
  if (p.line.outcome === 'rejected') expectRejectedSilently(p, why, ['reject.mail_system']);
  else expectCreatedSilently(p, why);
}

/** A new request that got no acknowledgement, for the reason given. */
function expectCreatedSilently(p: Processed, why: RegExp): void {
  expect(p.line).toMatchObject({ outcome: 'request_created', rule: 'create.new_request' });
  expect(p.line.trace).toContainEqual({ rule: 'reply.loop_protection', result: 'skipped', detail: expect.stringMatching(why) });
  expect(outbox(p.store)).toEqual([]);
  const data = readStore(p.store);
  expect(data.notifications.filter((x) => x.record.id === p.line.record!.id)).toEqual([]);
  expect(data.auto_replies).toEqual([]);
}

describe('loop protection: headers that mark automatic mail', () => {
  const AUTOMATIC: [string, string[], RegExp][] = [
    ['Auto-Submitted: auto-replied', ['Auto-Submitted: auto-replied'], /Auto-Submitted: auto-replied/],
    ['Auto-Submitted: auto-generated', ['Auto-Submitted: auto-generated'], /Auto-Submitted: auto-generated/],
    ['Auto-Submitted: auto-notified with parameters', ['Auto-Submitted: auto-notified; owner-email="x@y"'], /Auto-Submitted: auto-notified/],
    ['Auto-Submitted in upper case', ['Auto-Submitted: Auto-Replied'], /Auto-Submitted: auto-replied/],
    ['Precedence: bulk', ['Precedence: bulk'], /Precedence: bulk/],
    ['Precedence: junk', ['Precedence: junk'], /Precedence: junk/],
    ['Precedence: list', ['Precedence: List'], /Precedence: list/],
    ['X-Auto-Response-Suppress: All', ['X-Auto-Response-Suppress: All'], /X-Auto-Response-Suppress: All/],
    ['X-Auto-Response-Suppress: OOF', ['X-Auto-Response-Suppress: DR, OOF'], /X-Auto-Response-Suppress: DR, OOF/],
    ['X-Auto-Response-Suppress: AutoReply', ['X-Auto-Response-Suppress: AutoReply'], /X-Auto-Response-Suppress/],
    ['In-Reply-To one of m4me\'s own Message-IDs', ['In-Reply-To: <m4me.rejected.0123456789abcdef@mail.4me.com>'], /refers to m4me's own message m4me\.rejected\.0123456789abcdef@mail\.4me\.com/],
    ['References one of m4me\'s own Message-IDs', ['References: <a@b> <m4me.notify.100042.0123456789abcdef@mail.4me.com>'], /refers to m4me's own message/],
  ];

  test.each(AUTOMATIC)('%s: no Email Rejected reply', async (_what, headers, why) => {
    expectRejectedSilently(await processMessage(mail(STRANGER, headers)), why);
  });

  test.each(AUTOMATIC)('%s: the request is created, without acknowledgement', async (_what, headers, why) => {
    expectCreatedSilently(await processMessage(mail(ELLEN, headers)), why);
  });

  test.each([
    ['Auto-Submitted: no', ['Auto-Submitted: no']],
    ['Auto-Submitted: No', ['Auto-Submitted: No']],
    ['Precedence: first-class', ['Precedence: first-class']],
    ['X-Auto-Response-Suppress: DR, RN, NRN (receipts only)', ['X-Auto-Response-Suppress: DR, RN, NRN']],
    ['a m4me.-prefixed Message-ID of another domain', ['In-Reply-To: <m4me.rejected.0123@stranger.example>']],
  ])('%s: still replied to', async (_what, headers) => {
    const rejected = await processMessage(mail(STRANGER, headers));
    expect(rejected.line).toMatchObject({ outcome: 'rejected', rejection: { to: 'mallory@stranger.example' } });
    expect(recipients(rejected)).toEqual(['mallory@stranger.example']);
    expect(outbox(rejected.store)[0]!.name).toMatch(/email_rejected/);
    const created = await processMessage(mail(ELLEN, headers));
    expect(created.line.outcome).toBe('request_created');
    expect(recipients(created)).toEqual(['ellen.brown@widget.example']);
    expect(outbox(created.store)[0]!.name).toMatch(/acknowledgement/);
  });
});

describe('loop protection: bounces and mail systems', () => {
  test('null envelope sender (--sender \'\')', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, []), { args: ['--sender', ''] }), /envelope sender is null/, BOUNCE_RULES);
    expectNoReply(await processMessage(mail(ELLEN, []), { args: ['--sender', ''] }), /envelope sender is null/);
  });

  test('null envelope sender (--sender \'<>\')', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, []), { args: ['--sender', '<>'] }), /envelope sender is null/, BOUNCE_RULES);
  });

  test('null envelope sender from the environment of local(8) (SENDER=)', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, []), { env: { SENDER: '' } }), /envelope sender is null/, BOUNCE_RULES);
  });

  test('Return-Path: <> written by the delivery agent, no envelope given', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, ['Return-Path: <>'])), /envelope sender is null/, BOUNCE_RULES);
    expectNoReply(await processMessage(mail(ELLEN, ['Return-Path: <>'])), /envelope sender is null/);
  });

  test('an envelope given on the command line wins over Return-Path', async () => {
    const p = await processMessage(mail(STRANGER, ['Return-Path: <>']), { args: ['--sender', 'mallory@stranger.example'] });
    expect(recipients(p)).toEqual(['mallory@stranger.example']);
  });

  test('an mbox From line with a null sender (From <> …)', async () => {
    const raw = `From <> Mon Mar  2 08:30:00 2026\n${mail(STRANGER, [])}\n`;
    expectRejectedSilently(await processMessage(raw), /envelope sender is null/, BOUNCE_RULES);
  });

  test.each([
    ['From: MAILER-DAEMON@mx.stranger.example', 'Mail Delivery System <MAILER-DAEMON@mx.stranger.example>', []],
    ['From: postmaster@stranger.example', 'postmaster@stranger.example', []],
  ])('%s', async (_what, from, args) => {
    expectRejectedSilently(await processMessage(mail(from, []), { args }), /is a mail system address/, BOUNCE_RULES);
  });

  test('envelope sender MAILER-DAEMON (--sender), From a person', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, []), { args: ['--sender', 'MAILER-DAEMON@mx.stranger.example'] }), /mail system address/, BOUNCE_RULES);
    expectNoReply(await processMessage(mail(ELLEN, []), { args: ['--sender', 'MAILER-DAEMON'] }), /mail system address/);
  });

  test('Return-Path: <MAILER-DAEMON@…>, no envelope given', async () => {
    expectRejectedSilently(await processMessage(mail(STRANGER, ['Return-Path: <MAILER-DAEMON@mx.stranger.example>'])), /mail system address/, BOUNCE_RULES);
  });

  test('mail from one of m4me\'s own inbound addresses', async () => {
    expectRejectedSilently(await processMessage(mail('Service Desk <servicedesk@mail.4me.com>', [])), /inbound address of m4me itself/, BOUNCE_RULES);
  });

  test('a delivery status notification (multipart/report) from MAILER-DAEMON creates nothing and gets no reply', async () => {
    const original = [
      'From: widget-it@mail.4me.com', 'To: gone@stranger.example', 'Subject: Request #100042 registered: Printer',
      'Message-ID: <m4me.notify.100042.0123456789abcdef@mail.4me.com>', 'Auto-Submitted: auto-replied', '', 'Your request has been registered.',
    ].join('\n');
    const dsn = message({
      id: 'dsn-1@mx.widget.example', from: 'Mail Delivery System <MAILER-DAEMON@mx.widget.example>',
      subject: 'Undelivered Mail Returned to Sender', headers: ['Auto-Submitted: auto-replied'],
    }, multipart('report; report-type=delivery-status', [
      text('This is the mail system at host mx.widget.example.\n\nI\'m sorry to have to inform you that your message could not be delivered.'),
      { headers: ['Content-Type: message/delivery-status'], body: 'Reporting-MTA: dns; mx.widget.example\n\nFinal-Recipient: rfc822; gone@stranger.example\nAction: failed\nStatus: 5.1.1\n' },
      { headers: ['Content-Type: message/rfc822'], body: original },
    ]));
    const autoCreate = (s: StoreData) => { for (const a of s.accounts) a.email_policy.auto_create_people = true; };
    for (const [args, mutate] of [[[], undefined], [['--sender', ''], undefined], [[], autoCreate], [['--sender', ''], autoCreate]] as const) {
      // Even where unknown senders become people, a bounce is not a request.
      const p = await processMessage(dsn, { args: [...args], ...(mutate ? { mutate } : {}) });
      expect(p.line.outcome).toBe('rejected');
      expect(p.line.rejection!.to).toBeNull();
      expect(outbox(p.store)).toEqual([]);
      const data = readStore(p.store);
      expect(data.requests.map((r) => r.id)).toEqual([100001, 100002, 100003, 100004]);
      expect(data.notes).toHaveLength(4);
    }
  });

  test('a multipart/report without Auto-Submitted from a plain address gets no reply either', async () => {
    const dsn = message({ id: 'dsn-2@stranger.example', from: STRANGER, subject: 'Delivery Status Notification (Failure)' },
      multipart('report; report-type=delivery-status', [
        text('Delivery has failed.'),
        { headers: ['Content-Type: message/delivery-status'], body: 'Reporting-MTA: dns; stranger.example\n\nFinal-Recipient: rfc822; x@y\nAction: failed\nStatus: 5.1.1\n' },
      ]));
    expectRejectedSilently(await processMessage(dsn), /delivery status notification/, BOUNCE_RULES);
  });
});

describe('loop protection: the per-address daily limit', () => {
  test('maxAutoRepliesPerDay: replies stop at the limit for the day, across runs, and start again the next day', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ maxAutoRepliesPerDay: 2 }));
    const run = (raw: string, now = DEMO_NOW) => runCli(['process', '--json', '--store', store, '--config', cfg, '--now', now], { stdin: raw });
    // Two in one mbox run, one more in a second run: the third gets none.
    const mbox = [mail(STRANGER, []), mail('MALLORY@Stranger.Example', [])].map((m) => `From mallory@stranger.example Mon Mar  2 08:30:00 2026\n${m}\n`).join('\n');
    const first = jsonLines((await run(mbox)).stdout);
    expect(first.map((l) => l.rejection?.to)).toEqual(['mallory@stranger.example', 'mallory@stranger.example']);
    const third = jsonLines((await run(mail(STRANGER, []), '2026-03-02T23:59:59+00:00')).stdout)[0]!;
    expect(third).toMatchObject({ outcome: 'rejected', rejection: { to: null } });
    expect(third.trace).toContainEqual({ rule: 'reply.loop_protection', result: 'skipped', detail: 'no automatic reply: mallory@stranger.example already had 2 automatic replies today' });
    expect(outbox(store)).toHaveLength(2);
    // Another address is not affected.
    const other = jsonLines((await run(mail('Trent <trent@stranger.example>', []))).stdout)[0]!;
    expect(other.rejection!.to).toBe('trent@stranger.example');
    // The next (UTC) day the count starts again.
    const nextDay = jsonLines((await run(mail(STRANGER, []), '2026-03-03T00:00:01+00:00')).stdout)[0]!;
    expect(nextDay.rejection!.to).toBe('mallory@stranger.example');
    expect(recipients({ store }).sort()).toEqual(['mallory@stranger.example', 'mallory@stranger.example', 'mallory@stranger.example', 'trent@stranger.example']);
    expect(readStore(store).auto_replies).toHaveLength(4);
  });

  test('acknowledgements count towards the limit too', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ maxAutoRepliesPerDay: 1 }));
    const lines = [];
    for (const subject of ['Broken chair', 'Broken desk']) {
      const r = await runCli(['process', '--json', '--store', store, '--config', cfg, '--now', DEMO_NOW], { stdin: mail(ELLEN, [], subject) });
      lines.push(jsonLines(r.stdout)[0]!);
    }
    expect(lines.map((l) => l.outcome)).toEqual(['request_created', 'request_created']);
    expect(lines[1]!.trace).toContainEqual(expect.objectContaining({ rule: 'reply.loop_protection', detail: expect.stringMatching(/already had 1 automatic replies today/) }));
    expect(recipients({ store })).toEqual(['ellen.brown@widget.example']);
  });

  test('maxAutoRepliesPerDay 0 turns every automatic reply off', async () => {
    const p = await processMessage(mail(STRANGER, []), { config: { maxAutoRepliesPerDay: 0 } });
    expectRejectedSilently(p, /already had 0 automatic replies today/);
  });
});

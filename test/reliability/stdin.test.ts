/**
 * Reliability 7: what arrives on standard input from an MTA, at its edges: nothing at all, no
 * final newline, CRLF or LF, NUL bytes, raw 8-bit headers, a message at and just over
 * maxMessageBytes (50 MiB by default), the `From ` line local(8) puts first, and the envelope
 * in the environment instead of options.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli } from '../helpers/cli.js';
import { expectOneStatusLine, mailWithAttachment, sha256 } from './helpers.js';

const deliver = (store: string, stdin: string | Buffer, env?: Record<string, string>, args: string[] = []) =>
  runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...args], { stdin, ...(env ? { env } : {}) });

async function created(store: string, stdin: string | Buffer, env?: Record<string, string>, args: string[] = []) {
  const run = await deliver(store, stdin, env, args);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const results = jsonLines(run.stdout);
  expect(results).toHaveLength(1);
  expect(results[0]!.input).toBe('stdin');
  return results[0]!;
}

const HEAD = 'From: Ellen Brown <ellen.brown@widget.example>\nTo: widget-it@mail.4me.com\nDate: Mon, 02 Mar 2026 08:30:00 +0000\n';
const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

/** A message of exactly `size` bytes: a text part and a base64 attachment, padded in the epilogue. */
function messageOfSize(size: number, id: string): Buffer {
  const head = Buffer.from(`${HEAD}Subject: Big attachment\nMessage-ID: <${id}>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n`
    + '--b\nContent-Type: text/plain\n\nThe dump is attached.\n--b\nContent-Type: application/octet-stream; name="dump.bin"\n'
    + 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="dump.bin"\n\n');
  const tail = Buffer.from('--b--\n');
  const line = Buffer.from(`${Buffer.alloc(57, 0x5a).toString('base64')}\n`); // 76 characters of base64
  const lines = Math.floor((size - head.length - tail.length) / line.length);
  const pad = size - head.length - tail.length - lines * line.length;
  const out = Buffer.concat([head, Buffer.concat(Array(lines).fill(line)), tail, Buffer.alloc(pad, 0x0a)]);
  expect(out.length).toBe(size);
  return out;
}

describe('stdin edge cases', () => {
  test('empty stdin: one empty message, quarantined, 65', async () => {
    const store = demoStoreFile();
    const bytes = readFileSync(store);
    const run = await deliver(store, '');
    expect(run.code).toBe(65);
    expectOneStatusLine(run.stderr, /^5\.6\.0 m4me: .*empty message/);
    expect(readdirSync(`${store}.quarantine`).filter((f) => f.endsWith('.eml')).map((f) => statSync(join(`${store}.quarantine`, f)).size)).toEqual([0]);
    expect(readFileSync(store).equals(bytes)).toBe(true);
  });

  test('no trailing newline, CRLF or LF: the same request and note either way', async () => {
    const store = demoStoreFile();
    const body = 'The printer on floor 3 prints blank pages.\n\nIt started this morning.';
    // (Different subjects: the same subject and text again would be matched as the same event.)
    const lf = await created(store, `${HEAD}Subject: No final newline (LF)\nMessage-ID: <lf@t>\n\n${body}`);
    const cr = await created(store, crlf(`${HEAD}Subject: No final newline (CRLF)\nMessage-ID: <crlf@t>\n\n${body}`));
    expect([lf.outcome, cr.outcome]).toEqual(['request_created', 'request_created']);
    expect([lf.request!.subject, cr.request!.subject]).toEqual(['No final newline (LF)', 'No final newline (CRLF)']);
    expect([lf.note!.text, cr.note!.text]).toEqual([body, body]); // CR removed, the last line whole
    // Headers only, not even a newline after the last one.
    const bare = await created(store, `${HEAD}Message-ID: <bare@t>\nSubject: Headers only, no newline`);
    expect(bare.outcome).toBe('request_created');
    expect(bare.request!.subject).toBe('Headers only, no newline');
    // An attachment decodes to the same bytes from CRLF and LF mail.
    const content = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const a = await created(store, mailWithAttachment('att-lf@t', content, { subject: 'Attached LF' }));
    const b = await created(store, mailWithAttachment('att-crlf@t', content, { subject: 'Attached CRLF', eol: '\r\n' }));
    for (const r of [a, b]) {
      const note = readStore(store).notes.find((n) => n.message_id === r.message_id)!;
      expect(note.attachments.map((x) => [x.sha256, x.size])).toEqual([[sha256(content), content.length]]);
      expect(note.text).toBe('See the attachment.');
    }
  });

  test('NUL bytes and raw 8-bit (UTF-8, latin1) headers: processed, the store stays valid JSON', async () => {
    const store = demoStoreFile();
    const nul = await created(store, Buffer.from(`${HEAD}Subject: Printer\u0000 jam\nMessage-ID: <nul@t>\n\nBefore\u0000after the NUL.\n`, 'utf8'));
    expect(nul.outcome).toBe('request_created');
    expect(nul.request!.subject.replace(/\u0000/g, '')).toBe('Printer jam');
    expect(nul.note!.text).toMatch(/^Before\u0000?after the NUL\.$/); // nothing cut off at the NUL
    const utf8 = await created(store, Buffer.from(`From: Jürgen Größ <ellen.brown@widget.example>\nTo: widget-it@mail.4me.com\nSubject: Drucker im 3. Stock — kaputt ☹\nMessage-ID: <utf8@t>\n\nGrüße\n`, 'utf8'));
    expect(utf8.request!.subject).toBe('Drucker im 3. Stock — kaputt ☹');
    expect(utf8.note!.text).toBe('Grüße');
    // latin1 header bytes are not UTF-8: they are read as Latin-1.
    const latin1 = await created(store, Buffer.from(`${HEAD}Subject: Drucker kaputt, Grüße\nMessage-ID: <latin1@t>\n\nGrüße\n`, 'latin1'));
    expect(latin1.outcome).toBe('request_created');
    expect(latin1.request!.subject).toBe('Drucker kaputt, Grüße');
    const data = readStore(store); // parses
    expect(data.requests.filter((r) => ['nul@t', 'utf8@t', 'latin1@t'].includes(r.message_id ?? ''))).toHaveLength(3);
  });

  test('a message of exactly maxMessageBytes (50 MiB) is processed; one byte more: 5.3.4, quarantined whole, 65', async () => {
    const store = demoStoreFile();
    const max = 50 * 1024 * 1024;
    const fits = await created(store, messageOfSize(max, 'fits@t'));
    expect(fits.outcome).toBe('request_created');
    const [att] = fits.note!.attachments;
    const path = join(dirname(store), att!.path);
    expect(att!.size).toBeGreaterThan(37 * 1024 * 1024); // 50 MiB of base64, decoded
    expect(statSync(path).size).toBe(att!.size);
    expect(readStore(store).inbound.at(-1)!.message_id).toBe('fits@t');

    const bytes = readFileSync(store);
    const big = messageOfSize(max + 1, 'too-big@t');
    const run = await deliver(store, big);
    expect(run.code).toBe(65);
    expectOneStatusLine(run.stderr, /^5\.3\.4 m4me: message of 52428801 bytes is larger than maxMessageBytes 52428800/);
    const [result] = jsonLines(run.stdout);
    expect(result!.outcome).toBe('failed');
    expect(sha256(readFileSync(result!.error!.quarantined!))).toBe(sha256(big));
    expect(readFileSync(store).equals(bytes)).toBe(true);
  }, 120_000);

  test('the From line local(8) puts first: one message, its body whole, even a line starting "From "', async () => {
    const store = demoStoreFile();
    const body = 'The printer is broken.\n\nFrom what I can see the toner is empty.\n\n>From the log: paper jam.\nThanks';
    const msg = `From ellen.brown@widget.example  Mon Mar  2 08:30:00 2026\nReturn-Path: <ellen.brown@widget.example>\nDelivered-To: widget-it@mail.4me.com\n${HEAD}Subject: Local delivery\nMessage-ID: <local@t>\n\n${body}\n`;
    const r = await created(store, msg);
    expect(r.outcome).toBe('request_created');
    expect(r.request!.subject).toBe('Local delivery');
    // local(8) does not quote body lines for a command; only the `>From` line loses its `>`,
    // since mboxrd quoting cannot be told apart from text.
    expect(r.note!.text).toBe(body.replace('>From the log', 'From the log'));
    expect(existsSync(`${store}.quarantine`)).toBe(false);
  });

  test('a local(8) delivery (RECIPIENT set) is one message even when its body quotes a whole mbox envelope line', async () => {
    const store = demoStoreFile();
    const body = 'Here is the mbox excerpt:\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026\nSubject: cron output\n\nbackup failed';
    const msg = `From ellen.brown@widget.example  Mon Mar  2 08:30:00 2026\n${HEAD}Subject: Cron mail\nMessage-ID: <local-excerpt@t>\n\n${body}\n`;
    const r = await created(store, msg, { RECIPIENT: 'widget-it@mail.4me.com', SENDER: 'ellen.brown@widget.example' });
    expect(r.outcome).toBe('request_created');
    expect(r.note!.text).toBe(body);
    expect(readStore(store).inbound.filter((e) => e.message_id === 'local-excerpt@t')).toHaveLength(1);
  });

  test('the envelope from the environment (ORIGINAL_RECIPIENT, RECIPIENT, SENDER) instead of options', async () => {
    const store = demoStoreFile();
    // To: names no inbound address; the envelope does.
    const toStaff = (id: string, from = 'Ellen Brown <ellen.brown@widget.example>') =>
      eml({ id, from, to: 'All staff <staff@widget.example>', subject: `Envelope ${id}` });
    const orig = await created(store, toStaff('env1@t'), { ORIGINAL_RECIPIENT: 'Widget-IT@mail.4me.com', RECIPIENT: 'servicedesk.widget-it@mail.4me.com' });
    expect(orig.outcome).toBe('request_created');
    expect(orig.recipient).toBe('widget-it@mail.4me.com'); // ORIGINAL_RECIPIENT first, lower-cased
    const rcpt = await created(store, toStaff('env2@t'), { RECIPIENT: 'servicedesk.widget-it@mail.4me.com' });
    expect(rcpt.recipient).toBe('servicedesk.widget-it@mail.4me.com');
    expect(rcpt.request!.team).toBe(2001);
    const opt = await created(store, toStaff('env3@t'), { ORIGINAL_RECIPIENT: 'servicedesk.widget-it@mail.4me.com' }, ['--recipient', 'widget-it@mail.4me.com']);
    expect(opt.recipient).toBe('widget-it@mail.4me.com'); // an option wins over the environment
    const none = await created(store, toStaff('env4@t'));
    expect(none.outcome).toBe('rejected'); // no envelope: To: is not an inbound address
    expect(readStore(store).inbound.slice(-4).map((e) => e.recipient))
      .toEqual(['widget-it@mail.4me.com', 'servicedesk.widget-it@mail.4me.com', 'widget-it@mail.4me.com', 'staff@widget.example']);

    // SENDER: an empty one (a bounce) gets no 'Email Rejected' reply; a real one does.
    const stranger = (id: string) => eml({ id, from: 'Stranger <stranger@elsewhere.example>', subject: 'Who am I' });
    const outbox = () => (existsSync(`${store}.outbox`) ? readdirSync(`${store}.outbox`).length : 0);
    const count = outbox();
    const bounce = await created(store, stranger('env5@t'), { ORIGINAL_RECIPIENT: 'widget-it@mail.4me.com', SENDER: '' });
    expect(bounce.outcome).toBe('rejected');
    expect(bounce.rejection!.to).toBeNull();
    expect(bounce.trace.find((t) => t.rule === 'reply.loop_protection')?.detail).toMatch(/null \(a bounce\)/);
    expect(outbox()).toBe(count);
    const daemon = await created(store, stranger('env6@t'), { ORIGINAL_RECIPIENT: 'widget-it@mail.4me.com', SENDER: 'MAILER-DAEMON' });
    expect(daemon.rejection!.to).toBeNull();
    expect(outbox()).toBe(count);
    const person = await created(store, stranger('env7@t'), { ORIGINAL_RECIPIENT: 'widget-it@mail.4me.com', SENDER: 'stranger@elsewhere.example' });
    expect(person.rejection!.to).toBe('stranger@elsewhere.example');
    expect(outbox()).toBe(count + 1);
  });
});

// A message that is one text/plain part is read without mailparser's streams
// (src/mail/single-part.ts): the result must be exactly what mailparser gives.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { splitMbox } from '../../src/input/mbox.js';
import { loadMailparser } from '../../src/mail/mailparser.js';
import { parseEmail, parseSinglePartEmail, parseWithMailparser, SIMPLE_PARSER_OPTIONS } from '../../src/mail/parse.js';
import { parseSinglePart } from '../../src/mail/single-part.js';
import { CORPUS, CORPUS_PRESENT, testIf } from '../helpers/cli.js';

/** The fast reading's result (null: not a single text part), and mailparser's, for one message. */
async function both(raw: Buffer) {
  let fast: unknown;
  let fastError: string | null = null;
  try { fast = parseSinglePartEmail(raw, null); } catch (err) { fastError = String(err); }
  if (fast === null) return null;
  let slow: unknown;
  let slowError: string | null = null;
  try { slow = await parseWithMailparser(raw, null); } catch (err) { slowError = String(err); }
  return { fast, slow, fastError, slowError };
}

/** The fields of mailparser's own result that the InboundEmail is made of, before it is tidied. */
const FIELDS = ['text', 'html', 'subject', 'from', 'to', 'cc', 'messageId', 'inReplyTo', 'references', 'headerLines', 'attachments'] as const;
function fields(mail: Record<string, unknown>) {
  const out: Record<string, unknown> = Object.fromEntries(FIELDS.map((k) => [k, mail[k]]));
  // mailparser gives the time of parsing for a Date it cannot read: equal only when read.
  const date = mail.date as Date | undefined;
  const line = (mail.headerLines as { key: string; line: string }[]).find((l) => l.key === 'date')?.line ?? '';
  out.date = date && !Number.isNaN(Date.parse(line.slice(line.indexOf(':') + 1))) ? date.toISOString() : 'unread';
  return out;
}

async function expectSame(raw: Buffer | string): Promise<boolean> {
  const r = await both(Buffer.from(raw));
  if (!r) return false;
  expect(r.fastError).toBe(r.slowError);
  expect(r.fast).toEqual(r.slow);
  if (!r.fastError) {
    const input = Buffer.from(raw);
    const fast = parseSinglePart(input) as unknown as Record<string, unknown>;
    const slow = await loadMailparser().simpleParser(input, { ...SIMPLE_PARSER_OPTIONS }) as unknown as Record<string, unknown>;
    expect(fields(fast)).toEqual(fields(slow));
  }
  return true;
}

const head = (lines: string[], body: string, eol = '\n') => `${lines.join(eol)}${eol}${eol}${body}`;
const std = ['From: Ann Example <ann@example.com>', 'To: desk@mail.4me.com', 'Subject: printer', 'Message-ID: <a1@example.com>', 'Date: Thu, 05 Mar 2026 10:00:00 +0000'];

describe('single text/plain part read without mailparser streams', () => {
  testIf(CORPUS_PRESENT, 'single-part equivalence over the corpus')('gives mailparser\'s result for every such message of the corpus', async () => {
    let fast = 0;
    let total = 0;
    const mbox = join(CORPUS, 'all.mbox');
    for await (const m of splitMbox(createReadStream(mbox))) {
      total++;
      if (await expectSame(m.raw)) fast++;
    }
    expect(total).toBe(722);
    // The corpus is mostly odd MIME; still, a good share of it is read this way.
    expect(fast).toBeGreaterThan(60);
  }, 120_000);

  it.each([
    ['encoded words, folding and several recipients', head([
      'From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <Joerg@Example.COM>', 'To: desk@mail.4me.com,', '\t"Help, Desk" <help@mail.4me.com>',
      'Cc: undisclosed-recipients:;', 'Subject: =?iso-8859-1?b?U2NobPxzc2Vs?= kaputt', '  und mehr', 'Message-ID: <x@y>',
      'In-Reply-To: <n1@m4me> (comment)', 'References: <r1@a>\n <r2@b>  <r3@c>', 'Date: 5 Mar 2026 10:00 +0100'], 'Hallo\n')],
    ['CRLF line ends', head(std, 'line one\r\nline two\r\n', '\r\n')],
    ['no Content-Type at all, 8-bit UTF-8 body', head(std, 'Grüße, 東京\n')],
    ['us-ascii charset and 7bit', head([...std, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset="us-ascii"', 'Content-Transfer-Encoding: 7bit'], '#priority: high\n#team: Ops\n\nServer down\n')],
    ['quoted-printable', head([...std, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: Quoted-Printable'], 'Caf=C3=A9 =\nau lait=3D\r\nsoft=\n')],
    ['UTF-8 in raw headers', head(['From: Zoë <zoe@example.com>', 'To: desk@mail.4me.com', 'Subject: Ärger mit €', 'Message-ID: <u@x>'], 'body\n')],
    ['Latin-1 bytes in raw headers', Buffer.concat([Buffer.from('From: Zo'), Buffer.from([0xeb]), Buffer.from(' <zoe@example.com>\nTo: desk@mail.4me.com\nSubject: caf'), Buffer.from([0xe9]), Buffer.from('\n\nbody\n')])],
    ['GB2312 bytes in raw headers (detected)', Buffer.concat([Buffer.from('From: '), Buffer.from('cdf5d0a1c3f7', 'hex'), Buffer.from(' <w@example.com>\nTo: desk@mail.4me.com\nSubject: '), Buffer.from('b4f2d3a1bbfabbb5c1cba3acc7ebbea1bfecd0dec0ed', 'hex'), Buffer.from('\n\nbody\n')])],
    ['UTF-8 and Latin-1 lines in one header block', Buffer.concat([Buffer.from('From: Zoë <zoe@example.com>\nTo: desk@mail.4me.com\nSubject: caf'), Buffer.from([0xe9]), Buffer.from('\n\nbody\n')])],
    ['a UTF-8 byte order mark before the first header', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(head(std, 'x\n'))])],
    ['an indented first header line', ` ${head(std, 'x\r\n', '\r\n')}`],
    ['an unreadable Date and no Message-ID', head(['From: a@b.c', 'To: desk@mail.4me.com', 'Subject: s', 'Date: yesterday-ish'], 'x\n')],
    ['duplicate Subject and From lines', head(['From: a@b.c', 'From: z@y.x', 'To: desk@mail.4me.com', 'Subject: first', 'Subject: second'], 'x\n')],
    ['an empty body', head(std, '')],
    ['a body of one line end', head(std, '\r\n', '\r\n')],
    ['disposition inline', head([...std, 'Content-Type: text/plain', 'Content-Disposition: inline'], 'x\n')],
    ['a body with no final line end and a long line', head(std, `${'y'.repeat(70_000)}\nlast`)],
    ['an X-4me-From override and Authentication-Results', head([...std, 'X-4me-From: boss@example.com', 'X-4me-Auth: s3cret', 'Authentication-Results: mx.4me.com; dmarc=pass header.from=example.com'], 'x\n')],
  ])('%s', async (_name, raw) => {
    expect(await expectSame(Buffer.from(raw))).toBe(true);
  });

  it.each([
    ['multipart', head([...std, 'Content-Type: multipart/mixed; boundary=b'], '--b\n\nx\n--b--\n')],
    ['text/html', head([...std, 'Content-Type: text/html'], '<p>x</p>')],
    ['base64', head([...std, 'Content-Type: text/plain', 'Content-Transfer-Encoding: base64'], 'eA==\n')],
    ['another charset', head([...std, 'Content-Type: text/plain; charset=iso-8859-1'], 'caf\xe9\n')],
    ['format=flowed', head([...std, 'Content-Type: text/plain; format=flowed'], 'a \nb\n')],
    ['an attachment disposition', head([...std, 'Content-Disposition: attachment; filename=a.txt'], 'x\n')],
    ['a named part', head([...std, 'Content-Type: text/plain; name=a.txt'], 'x\n')],
    ['no body separator', std.join('\n')],
  ])('leaves %s to mailparser, which parses it as before', async (_name, raw) => {
    const buf = Buffer.from(raw, 'latin1');
    expect(parseSinglePartEmail(buf, null)).toBeNull();
    expect(await parseEmail(buf, null)).toEqual(await parseWithMailparser(buf, null));
  });

  it('reads an unreadable Date as no date on both paths (mailparser would put the time of parsing there)', async () => {
    for (const type of ['text/plain', 'text/html']) {
      const raw = Buffer.from(head(['From: a@b.c', 'To: desk@mail.4me.com', 'Date: the day after tomorrow', `Content-Type: ${type}`], 'x\n'));
      expect((await parseEmail(raw, null)).date).toBeNull();
      expect((await parseWithMailparser(raw, null)).date).toBeNull();
    }
    const ok = Buffer.from(head(std, 'x\n'));
    expect((await parseEmail(ok, null)).date).toBe('2026-03-05T10:00:00.000Z');
  });

  it('throws the unreadable-message error mailparser\'s path throws', async () => {
    const raw = Buffer.from('not a header line\n\nbody\n');
    expect(() => parseSinglePartEmail(raw, null)).toThrow('no header fields');
    await expect(parseWithMailparser(raw, null)).rejects.toThrow('no header fields');
  });

  it('agrees with mailparser on generated single-part messages', async () => {
    const headerValue = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ')),
      fc.constantFrom('=?utf-8?q?caf=C3=A9?=', '=?utf-8?B?w6k=?= x', '=?bogus?q?x?=', '"Quoted, Name" <q@x.y>', 'a@b.c, d@e.f', 'Group: a@b.c;', '<id@x>', '  spaced  ', 'line\n continued'),
    );
    const field = fc.tuple(fc.constantFrom('From', 'To', 'Cc', 'Subject', 'Message-ID', 'In-Reply-To', 'References', 'Date', 'X-4me-From', 'Content-Type', 'Content-Transfer-Encoding', 'Return-Path', 'Delivered-To', 'X-Other'), headerValue)
      .map(([name, value]) => `${name}: ${value}`);
    const body = fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('#ci: P31\n#high\n\ntext', '=C3=A9=\n', 'a\r\nb\rc\n\n\n', ''));
    let fast = 0;
    await fc.assert(fc.asyncProperty(fc.array(field, { minLength: 1, maxLength: 8 }), body, fc.constantFrom('\n', '\r\n'), async (fields, text, eol) => {
      const raw = Buffer.from(head(['From: a@b.c', ...fields], text, eol));
      if (await expectSame(raw)) fast++;
    }), { numRuns: 300, seed: 20261202 });
    expect(fast).toBeGreaterThan(100);
  }, 60_000);
});

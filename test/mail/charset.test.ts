// Raw 8-bit header bytes that declare no charset (src/mail/charset.ts), read the same on
// both parse paths.
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { detectHeaderCharset, messageStart, utf8Headers } from '../../src/mail/charset.js';
import { parseEmail, parseWithMailparser } from '../../src/mail/parse.js';

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const hex = (h: string) => [...Buffer.from(h, 'hex')];
// 打印机坏了，请尽快修理 in GB2312; ツール and 山田太郎 in Shift_JIS.
const GB = hex('b4f2d3a1bbfabbb5c1cba3acc7ebbea1bfecd0dec0ed');
const SJIS_TOOL = hex('8363815b838b');
const SJIS_NAME = hex('8e52936391be9859');

async function read(raw: Buffer) {
  const a = await parseEmail(raw, null);
  const b = await parseWithMailparser(raw, null);
  expect({ subject: a.subject, from: a.from }).toEqual({ subject: b.subject, from: b.from });
  return a;
}

describe('header bytes without a charset', () => {
  it('detects GB2312 when chardet is sure, whatever the body declares', async () => {
    for (const type of ['text/plain; charset=utf-8', 'text/plain; charset=iso-8859-1']) {
      const e = await read(bytes('From: a@b.c\nSubject: ', GB, `\nContent-Type: ${type}\n\nx\n`));
      expect(e.subject).toBe('打印机坏了，请尽快修理');
    }
  });

  it('takes Shift_JIS for short Japanese bytes only with a Japanese body charset as hint', async () => {
    const msg = (type: string) => bytes('From: ', SJIS_NAME, ' <t@b.c>\nSubject: ', SJIS_TOOL, `\nContent-Type: ${type}\n\nx\n`);
    const hinted = await read(msg('text/plain; charset=iso-2022-jp'));
    expect(hinted.subject).toBe('ツール');
    expect(hinted.from).toEqual({ address: 't@b.c', name: '山田太郎' });
    // Unsure without the hint: Latin-1, as an undetectable header always was.
    expect((await read(msg('text/plain; charset=utf-8'))).subject).toBe(Buffer.from(SJIS_TOOL).toString('latin1'));
  });

  it('tells EUC-JP from Shift_JIS beside a Japanese body (encoding-japanese)', async () => {
    // 会議のお知らせ in EUC-JP: valid Shift_JIS bytes too, and chardet ranks Shift_JIS first.
    const euc = hex('b2f1b5c4a4cea4aac3cea4e9a4bb');
    const e = await read(bytes('From: a@b.c\nSubject: ', euc, '\nContent-Type: text/plain; charset=iso-2022-jp\n\nx\n'));
    expect(e.subject).toBe('会議のお知らせ');
    const word = await read(bytes(`From: =?ISO-2022-JP?B?${Buffer.from(euc).toString('base64')}?= <t@b.c>\n\nx\n`));
    expect(word.from?.name).toBe('会議のお知らせ');
  });

  it('keeps UTF-8 lines as UTF-8 beside a Latin-1 line', async () => {
    const e = await read(bytes('From: Zoë <zoe@example.com>\nSubject: caf', [0xe9], '\n\nbody\n'));
    expect(e.from?.name).toBe('Zoë');
    expect(e.subject).toBe('café');
  });

  it('reads a line the detected charset cannot read as Latin-1', async () => {
    const e = await read(bytes('From: Zo', [0xeb], ' <z@b.c>\nSubject: ', GB, '\n\nx\n'));
    expect(e.subject).toBe('打印机坏了，请尽快修理');
    expect(e.from?.name).toBe('Zoë');
  });

  it('detects over a bounded sample: 50,000 lines of 8-bit junk cost little more than a few', () => {
    // Random-looking bytes, the same every run.
    const junk = (i: number) => [...createHash('sha256').update(String(i)).digest()].map((b) => (b === 10 || b === 13 || b === 58 ? 97 : b));
    const head = bytes('From: a@b.c\nSubject: caf', [0xe9], '\n', ...Array.from({ length: 50_000 }, (_, i) => [...bytes('X-J: ', junk(i), '\n')]));
    const started = performance.now();
    const out = utf8Headers(Buffer.concat([head, Buffer.from('\nx\n')]), head);
    expect(performance.now() - started).toBeLessThan(10_000); // 37 s when every line was sampled, 0.4-2 s now
    expect(out.toString().split('\n')[1]).toBe('Subject: café');
  }, 60_000);

  it('detects Latin-1 when unsure, and takes a hint only for bytes valid in it', () => {
    const latin = [Buffer.from('Subject: Gr\xfc\xdfe\n', 'latin1')];
    expect(detectHeaderCharset(latin, null)).toBe('latin1');
    expect(detectHeaderCharset(latin, 'utf-8')).toBe('latin1');
    expect(detectHeaderCharset([Buffer.from(SJIS_TOOL)], 'shift_jis')).toBe('Shift_JIS');
    // Not valid EUC-JP: the hint's other charset is not taken for bytes it cannot read.
    expect(detectHeaderCharset([Buffer.from(SJIS_NAME)], 'euc-jp')).toBe('Shift_JIS');
  });
});

describe('encoded words that mailers get wrong', () => {
  it('reads raw 8-bit bytes inside a Q word in the word\'s charset', async () => {
    const e = await read(bytes('From: a@b.c\nSubject: =?iso-8859-1?Q?Fr', [0xf6, 0xa0], 'sche?= =?windows-1251?Q?', [0xcf, 0xf0], '?=\n\nx\n'));
    expect(e.subject).toBe('Fr\u00f6 scheПр'); // NBSP made a space; no space between two words (RFC 2047)
  });

  it('reads Shift_JIS bytes in a word labelled ISO-2022-JP as Shift_JIS, real ISO-2022-JP as it is', async () => {
    const sjisWord = `=?ISO-2022-JP?B?${Buffer.from(SJIS_TOOL).toString('base64')}?=`;
    const jisWord = `=?ISO-2022-JP?B?${Buffer.from('1b24422544213c256b1b2842', 'hex').toString('base64')}?=`;
    const e = await read(bytes(`From: ${sjisWord} <t@b.c>\nSubject: ${jisWord}\n\nx\n`));
    expect(e.from?.name).toBe('ツール');
    expect(e.subject).toBe('ツール');
  });
});

describe('where a message starts', () => {
  it('skips a BOM, an indented first line and lines of spaces before a header field', () => {
    expect(messageStart(bytes([0xef, 0xbb, 0xbf], 'From: a@b.c\n')).toString()).toBe('From: a@b.c\n');
    expect(messageStart(Buffer.from(' \tFrom: a@b.c\n')).toString()).toBe('From: a@b.c\n');
    expect(messageStart(Buffer.from('   \r\n\t\nFrom: a@b.c\n')).toString()).toBe('From: a@b.c\n');
  });

  it('leaves anything else as it is: an empty first line, or no header field after the whitespace', async () => {
    for (const raw of ['\nFrom: a@b.c\n', '  not a header\n\nbody\n', ' \n\nFrom: a@b.c\n']) {
      expect(messageStart(Buffer.from(raw)).toString()).toBe(raw);
      await expect(parseEmail(Buffer.from(raw), null)).rejects.toThrow('no header fields');
    }
  });
});

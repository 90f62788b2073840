/**
 * Linear time for every input (issue 16, item 2): each parser step, run in-process on about
 * 1 MB of hostile input, takes at most FACTOR times (plus SLACK_MS) what a normal message of
 * the same size costs, measured in the same run. Ratios, not absolute times: the VM's speed
 * varies. A super-linear step (a regex that backtracks over its own input) takes seconds to
 * hours here. M4ME_LINEAR_BYTES sets the size (a smaller one shows a regression quickly).
 *
 * The reference is the same step on a normal message, except for steps that do next to
 * nothing on normal mail (the parameter block is a few lines at the top, a subject holds few
 * numbers, few lines end in spaces): for them it is reading a whole normal message of that
 * size (multipart/alternative, its text as text and as HTML), of which they are part.
 * 100,000 parameter lines are 100,000 parameters, more work than a normal body of that size,
 * but work in proportion to the input.
 *
 * The end-to-end case at the end runs the real CLI on 1 MB hostile messages.
 */
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjectIds } from '../../src/engine/matching.js';
import { splitMbox } from '../../src/input/mbox.js';
import { htmlToText } from '../../src/mail/html-text.js';
import { splitParameters } from '../../src/mail/parameters.js';
import { normaliseAddress, parseEmail } from '../../src/mail/parse.js';
import { tidy } from '../../src/mail/text.js';
import { DEMO_NOW, demoStoreFile, jsonLines, runCli, tempDir } from '../helpers/cli.js';

const SIZE = Number(process.env.M4ME_LINEAR_BYTES) || 1 << 20;
/** mailsplit refuses a header block past about 1 MB (a clear 'unreadable'); header cases stay under it. */
const HEAD_SIZE = Math.min(SIZE, 192 << 10);
const FACTOR = 10;
const SLACK_MS = 50;

/** `unit` repeated to `size` characters. */
const fill = (unit: string, size = SIZE): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

async function elapsed(fn: () => unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/**
 * Every hostile case within FACTOR × the normal case + SLACK_MS. The normal case is warmed up
 * and timed best of three; a hostile case is timed once, and again (up to three times) only
 * when over the bound, so a GC pause or a busy core does not fail it, and a quadratic one is
 * not run three times.
 */
async function expectLinear(normal: () => unknown, hostile: Record<string, () => unknown>): Promise<void> {
  await normal();
  let base = Infinity;
  for (let i = 0; i < 3; i++) base = Math.min(base, await elapsed(normal));
  const bound = FACTOR * base + SLACK_MS;
  const slow: string[] = [];
  for (const [name, fn] of Object.entries(hostile)) {
    let t = Infinity;
    try {
      for (let i = 0; i < 3 && t > bound; i++) t = Math.min(t, await elapsed(fn));
    } catch (err) {
      slow.push(`${name}: ${(err as Error).message}`);
      continue;
    }
    if (t > bound) slow.push(`${name}: ${t.toFixed(0)} ms, more than ${bound.toFixed(0)} ms (normal ${base.toFixed(1)} ms)`);
  }
  expect(slow).toEqual([]);
}

const HEAD = [
  'From: Ellen Brown <ellen.brown@widget.example>', 'To: widget-it@mail.4me.com',
  'Subject: Printer on floor 3 is broken', 'Date: Mon, 02 Mar 2026 08:30:00 +0000',
  'Message-ID: <linear-1@widget.example>', 'MIME-Version: 1.0',
];
const message = (body: string, type = 'text/plain; charset=utf-8', extra: string[] = []): Buffer =>
  Buffer.from([...HEAD, ...extra, `Content-Type: ${type}`, '', body].join('\n'));
/** The same message with one header replaced (From:, To:, …) or added. */
const withHeader = (line: string, body = 'Hello.\n'): Buffer => {
  const name = line.slice(0, line.indexOf(':') + 1);
  const head = HEAD.some((h) => h.startsWith(name)) ? HEAD.map((h) => (h.startsWith(name) ? line : h)) : [...HEAD, line];
  return Buffer.from([...head, 'Content-Type: text/plain; charset=utf-8', '', body].join('\n'));
};
const multipart = (text: string): Buffer => message([
  '--b1', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text,
  '--b1', 'Content-Type: application/octet-stream; name="a.bin"', 'Content-Disposition: attachment; filename="a.bin"',
  'Content-Transfer-Encoding: base64', '', 'AAECAwQ=', '--b1--', '',
].join('\n'), 'multipart/mixed; boundary="b1"');

const PROSE = 'The printer on floor 3 shows error E-204 again since this morning.\nWe tried to restart it twice.\n\n';
const ALERT = '#sourceID: nagios-4711\n#ci: CMP00001\n#team: SAP Basis Support @widget-it\n#impact: high\n#rfc\n\n';
const normalText = fill(PROSE);
const spaces = (n: number) => ' '.repeat(n);
/** A normal message as mail programs send it: the text, and the same text as HTML. */
const alternative = (text: string): Buffer => message([
  '--b2', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text,
  '--b2', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '',
  `<html><body>${text.split('\n\n').map((p) => `<p>${p.replace(/\n/g, '<br>')}</p>`).join('\n')}</body></html>`, '--b2--', '',
].join('\n'), 'multipart/alternative; boundary="b2"');
const normalMessage = alternative(fill(PROSE, SIZE / 2));
/** Reading a normal message of SIZE bytes: the reference of the steps it is made of. */
const readNormal = () => parseEmail(normalMessage);

describe('linear time: the body (tidy, parameters, qualifiers)', () => {
  test('parseEmail of a text body', async () => {
    await expectLinear(readNormal, {
      'a + spaces + b': () => parseEmail(message(`a${spaces(SIZE)}b\n`)),
      'spaces and tabs, then x, on every line': () => parseEmail(message(fill(`${' \t'.repeat(500)}x\n`))),
      'a line of spaces before a non-space': () => parseEmail(message(fill(`${spaces(4000)}\u00a0\n`))),
      'blank lines': () => parseEmail(message(fill('\n \n\t\n'))),
      'a parameter value of spaces': () => parseEmail(message(`#team: a${spaces(SIZE)}b\n\ntext\n`)),
      'multipart: a + spaces + b': () => parseEmail(multipart(`a${spaces(SIZE)}b`)),
    });
  });

  test('tidy', async () => {
    await expectLinear(readNormal, {
      'a + spaces + b': () => tidy(`a${spaces(SIZE)}b`),
      'spaces and tabs, then x': () => tidy(fill(`${' \t'.repeat(500)}x\n`)),
      'spaces before \\u2028': () => tidy(fill(`${spaces(4000)}\u2028`)),
      'spaces before \\u00a0': () => tidy(fill(`${spaces(4000)}\u00a0\n`)),
      'CR and CRLF': () => tidy(fill(' \r \r\n')),
      'blank lines': () => tidy(fill('\n \n\t\n')),
    });
  });

  test('splitParameters', async () => {
    await expectLinear(readNormal, {
      '#team: a + spaces + b': () => splitParameters(`#team: a${spaces(SIZE)}b\n\ntext`),
      '#name + spaces + b': () => splitParameters(`#a${spaces(SIZE)}b\n`),
      '#name + spaces + :': () => splitParameters(`#a${' \t'.repeat(SIZE / 2)}:${spaces(10)}x${spaces(10)}\n`),
      '#ci: a a a … (qualifier)': () => splitParameters(`#ci: ${fill('a ')}b\n`),
      '#member: x @ @ @ …': () => splitParameters(`#member: x${fill(' @')}\n`),
      '#team: x @a@a@a …': () => splitParameters(`#team: x ${fill('@a')}\n`),
      '#team: tabs, \\u00a0 and @': () => splitParameters(`#team: x${fill('\t\u00a0 @-')}\n`),
      '100k #x: lines': () => splitParameters(fill('#x:\n')),
      '#x: y lines': () => splitParameters(fill('#x: y @z\n')),
      '# lines': () => splitParameters(fill('#\n')),
      'blank lines between (HTML)': () => splitParameters(`#a: 1\n${fill('\n \n')}x`, { blankLinesBetween: true }),
      'parameters between blank lines (HTML)': () => splitParameters(fill('#a\n\n\n'), { blankLinesBetween: true }),
    });
  });
});

describe('linear time: the subject ID search', () => {
  test('subjectIds', async () => {
    await expectLinear(readNormal, {
      'one long number then a letter': () => subjectIds(`${fill('1')}a`),
      'numbers followed by letters': () => subjectIds(fill(' 1234567a')),
      '#': () => subjectIds(fill('#')),
      '#digits#digits': () => subjectIds(fill('#12345678')),
      'spaces': () => subjectIds(`${spaces(SIZE)}x`),
    });
  });
});

describe('linear time: addresses and header reading', () => {
  const received = 'Received: from mx1.widget.example (mx1.widget.example [192.0.2.1])\n\tby mail.4me.com (Postfix) with ESMTPS id 4Q1x; Mon, 02 Mar 2026 08:30:00 +0000';
  const normalHead = Buffer.from([...HEAD, ...Array(Math.ceil(HEAD_SIZE / received.length)).fill(received), 'Content-Type: text/plain', '', 'Hello.', ''].join('\n'));

  test('normaliseAddress', async () => {
    await expectLinear(readNormal, {
      '<<<…': () => normaliseAddress(fill('<')),
      '<a<a…': () => normaliseAddress(fill('<a')),
      '@@@…': () => normaliseAddress(fill('@')),
    });
  });

  test('parseEmail of hostile address and header fields', async () => {
    const n = HEAD_SIZE - 200;
    await expectLinear(() => parseEmail(normalHead), {
      'Delivered-To: <<<…': () => parseEmail(withHeader(`Delivered-To: ${fill('<', n)}`)),
      'Return-Path: <a<a…': () => parseEmail(withHeader(`Return-Path: ${fill('<a', n)}`)),
      'X-Original-To: spaces': () => parseEmail(withHeader(`X-Original-To: a${spaces(n)}b`)),
      'From: nested quotes': () => parseEmail(withHeader(`From: ${fill('"\\"', n)} <x@y.example>`)),
      'From: <<<…': () => parseEmail(withHeader(`From: ${fill('<', n)}`)),
      'From: @@@…': () => parseEmail(withHeader(`From: ${fill('@', n)}`)),
      'To: many addresses': () => parseEmail(withHeader(`To: ${fill('a@b.example, ', n)}`)),
      'Cc: nested comments': () => parseEmail(withHeader(`Cc: ${fill('(', n / 2)}${fill(')', n / 2)} x@y.example`)),
      'Subject: encoded words': () => parseEmail(withHeader(`Subject: ${fill('=?UTF-8?B?YWJj?= ', n)}`)),
      'Subject: spaces and digits': () => parseEmail(withHeader(`Subject: 1234567${fill(' 1234567a', n)}`)),
      'References: <<<…': () => parseEmail(withHeader(`References: ${fill('<', n)}`)),
      'References: many ids': () => parseEmail(withHeader(`References: ${fill('<a@b.example> ', n)}`)),
      'Authentication-Results: ((( …': () => parseEmail(withHeader(`Authentication-Results: mx.4me.com; ${fill('(', n)}`)),
      'Authentication-Results: many methods': () => parseEmail(withHeader(`Authentication-Results: mx.4me.com; ${fill('dmarc = pass ; ', n)}`)),
      'X-4me-From: <<<…': () => parseEmail(withHeader(`X-4me-From: ${fill('<', n)}`)),
      // mailsplit counts a header line as at least 64 bytes (1 MiB: 16k lines).
      'many header lines': () => parseEmail(Buffer.from([...HEAD, ...Array(Math.ceil(n / 80)).fill('X-A: b'), '', 'hi'].join('\n'))),
      'one long folded header': () => parseEmail(withHeader(`X-A: ${fill(`${'a'.repeat(70)}\n `, n)}`)),
      'header lines of spaces': () => parseEmail(withHeader(`X-A: x${fill(`${spaces(70)}\n `, n)}x`)),
    });
  });

  test('a header block over mailsplit\'s limit is refused at once', async () => {
    await expectLinear(() => parseEmail(message(normalText)), {
      '1 MB From:': () => parseEmail(withHeader(`From: ${fill('<', SIZE)}`)).catch(() => undefined),
      '1 MB of header lines': () => parseEmail(Buffer.from([...HEAD, fill('X-A: b\n'), '', 'hi'].join('\n'))).catch(() => undefined),
    });
  });
});

describe('linear time: the mbox splitter', () => {
  /** The stream in small chunks, as a slow writer on a pipe hands it over. */
  const chunks = (s: string, size = 256) => {
    const b = Buffer.from(s);
    const out: Buffer[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  };
  // A plain async iterable: a Readable's own cost per chunk would hide the splitter's.
  async function* stream(list: Buffer[]) { for (const c of list) yield c; }
  const split = async (list: Buffer[]) => { let n = 0; for await (const m of splitMbox(stream(list))) n += m.raw.length; return n; };
  const envelope = 'From ellen.brown@widget.example Mon Mar  2 08:30:00 2026\n';

  test('splitMbox', async () => {
    const one = `${envelope}${[...HEAD, '', PROSE].join('\n')}\n`;
    const normal = chunks(fill(one));
    const hostile = {
      'one long line': chunks(`${envelope}${HEAD.join('\n')}\n\n${fill('a')}`),
      'From lines that are no separators': chunks(`${envelope}\n${fill('\nFrom what I see\n')}`),
      '>>>From lines': chunks(`${envelope}\n${fill(`${'>'.repeat(1000)}From x\n`)}`),
      'blank lines': chunks(`${envelope}\n${fill('\n')}`),
      'many short messages': chunks(fill(`${envelope}\n`)),
    };
    await expectLinear(() => split(normal), Object.fromEntries(Object.entries(hostile).map(([k, v]) => [k, () => split(v)])));
  });
});

describe('linear time: HTML to text', () => {
  const NEWS = '<table><tr><td><p>Dear customer, the <b>printer</b> on <a href="https://widget.example/floor/3">floor 3</a> is broken.</p><ul><li>Error E-204</li><li>Restarted twice</li></ul></td></tr></table>\n';
  const html = (body: string) => message(`<html><body>${body}</body></html>\n`, 'text/html; charset=utf-8');
  const mixed = (body: string) => message([
    '--b3', 'Content-Type: text/plain', '', 'See below.', '--b3', 'Content-Type: text/html; charset=utf-8', '',
    `<html><body>${body}</body></html>`, '--b3--', '',
  ].join('\n'), 'multipart/mixed; boundary="b3"');
  const nested = (open: string, close: string, inner = 'deep text') => {
    const n = Math.floor((SIZE - inner.length) / (open.length + close.length));
    return open.repeat(n) + inner + close.repeat(n);
  };

  test('htmlToText', async () => {
    const doc = (body: string) => `<html><body>${body}</body></html>`;
    await expectLinear(() => htmlToText(doc(fill(NEWS)), []), {
      'nested <div>': () => htmlToText(doc(nested('<div>', '</div>')), []),
      'nested <span> never closed': () => htmlToText(doc(fill('<span>x')), []),
      'nested <li> in <td>': () => htmlToText(doc(nested('<li><td>', '')), []),
      'many siblings': () => htmlToText(doc(fill('<i></i>')), []),
      'many cid images': () => htmlToText(doc(fill('<img src="cid:a">')), [{ filename: 'a.png', contentType: 'image/png', size: 1, content: Buffer.alloc(1), sha256: '', contentId: 'a', inline: true }]),
    });
  }, 300_000);

  test('parseEmail of an HTML body', async () => {
    await expectLinear(() => parseEmail(html(fill(NEWS))), {
      'nested <div>': () => parseEmail(html(nested('<div>', '</div>'))),
      'nested <b>': () => parseEmail(html(nested('<b>', '</b>'))),
      'nested <b> never closed': () => parseEmail(html(fill('<b>x'))),
      'nested tables': () => parseEmail(html(nested('<table><tr><td>', '</td></tr></table>'))),
      'nested lists': () => parseEmail(html(nested('<ul><li>', '</li></ul>'))),
      'nested blockquotes': () => parseEmail(html(nested('<blockquote>', '</blockquote>'))),
      'many paragraphs': () => parseEmail(html(fill('<p>x</p>'))),
      'many line breaks': () => parseEmail(html(fill('<br>'))),
      '<<<…': () => parseEmail(html(fill('<'))),
      'spaces': () => parseEmail(html(`a${spaces(SIZE)}b`)),
      'a long attribute': () => parseEmail(html(`<a href="${fill('x')}">x</a>`)),
      'entities': () => parseEmail(html(fill('&amp;&#x41;&nbsp;'))),
      // An HTML part next to a text part is converted by mailparser (its depth check misses
      // elements that end implicitly, and htmlparser2 is quadratic in such depth).
      'mailparser: text + nested <li><td>': () => parseEmail(mixed(nested('<li><td>', ''))),
      'mailparser: text + nested <div>': () => parseEmail(mixed(nested('<div>', '</div>'))),
    });
  }, 300_000);
});

describe('linear time through the CLI', () => {
  test('m4me process of 1 MB hostile messages completes in seconds', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const mail = (from: string, body: string, subject = 'Printer') => Buffer.from([
      `From: ${from}`, 'To: widget-it@mail.4me.com', `Subject: ${subject}`, 'Date: Mon, 02 Mar 2026 08:30:00 +0000',
      `Message-ID: <${Math.random().toString(36).slice(2)}@hostile.example>`, `Delivered-To: ${fill('<', 100_000)}`,
      'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body,
    ].join('\n'));
    const files = {
      // A stranger: the body is read (tidied, its parameter block split off) before the sender is known.
      'stranger.eml': mail('Mallory <mallory@hostile.example>', `#team: a${spaces(SIZE / 2)}b @x\n#a${spaces(SIZE / 4)}b\n\na${spaces(SIZE / 4)}b\n`,
        `1234567${fill(' 1234567a', 100_000)}`),
      // A forged monitoring From: its parameters are honoured, one long line of spaces each.
      'monitoring.eml': mail('Nagios <nagios@monitoring.widget.example>',
        `#ci: CMP00001${spaces(SIZE / 4)}x @widget-it\n#team: Servers${spaces(SIZE / 4)}@widget-it\n#sourceID: a${spaces(SIZE / 4)}b\n#custom_field_x: ${fill(' @', SIZE / 4)}\n\nDisk full\n`),
    };
    for (const [name, raw] of Object.entries(files)) writeFileSync(join(dir, name), raw);
    const t = performance.now();
    const run = await runCli(['process', '--store', store, '--now', DEMO_NOW, '--json', ...Object.keys(files).map((f) => join(dir, f))]);
    const seconds = (performance.now() - t) / 1000;
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonLines(run.stdout).map((r) => r.outcome)).toEqual(['rejected', 'request_created']);
    expect(seconds).toBeLessThan(20);
  }, 120_000);
});

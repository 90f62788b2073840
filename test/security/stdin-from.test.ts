/**
 * One message on standard input that starts with a `From ` line (procmail -m, maildrop, a
 * pipe without local(8)'s environment) is one message, whatever `From ` lines its body holds:
 * it is split as an mbox only by the structure of one, where every later `From ` line follows
 * an empty line and is followed by a header block with a From: or Date: field.
 */
import { describe, expect, test } from '@jest/globals';
import { DEMO_NOW, demoStoreFile, jsonLines, readStore, runCli } from '../helpers/cli.js';

const HEAD = 'From: Ellen Brown <ellen.brown@widget.example>\nTo: widget-it@mail.4me.com\nDate: Mon, 02 Mar 2026 08:30:00 +0000\n';
const ENVELOPE = 'From ellen.brown@widget.example  Mon Mar  2 08:30:00 2026\n';

async function stdin(raw: string) {
  const store = demoStoreFile();
  const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: raw });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return { lines: jsonLines(run.stdout), store };
}

describe('a single message on stdin with a From line', () => {
  test.each([
    ['a quoted envelope line and a line of text', 'The backup log:\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026\nThe backup failed at 03:00.'],
    ['a quoted envelope line and a header-like block without From: or Date:', 'Here is the mbox excerpt:\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026\nSubject: cron output\nX-Cron-Env: <SHELL=/bin/sh>\n\nbackup failed'],
    ['a quoted envelope line as the last line', 'It ended with\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026'],
    ['two quoted envelope lines, CRLF', 'First\r\n\r\nFrom a@b.example Mon Mar  2 07:00:00 2026\r\nno header\r\n\r\nFrom c@d.example Tue Mar  3 07:00:00 2026\r\n\r\nstill text'],
  ])('%s: one message, its body whole', async (_name, body) => {
    const raw = `${ENVELOPE}${HEAD}Subject: Procmail delivery\nMessage-ID: <procmail-${Math.random().toString(36).slice(2)}@t>\n\n${body}\n`;
    const { lines } = await stdin(body.includes('\r') ? raw.replace(/\r?\n/g, '\r\n') : raw);
    expect(lines.map((l) => [l.input, l.outcome])).toEqual([['stdin', 'request_created']]);
    expect(lines[0]!.note!.text.replace(/\r/g, '')).toBe(body.replace(/\r/g, '').trim());
  });

  test('an mbox of several messages on stdin is still split, each with its own Message-ID', async () => {
    const message = (n: number, body: string) => `From sender${n}@widget.example Mon Mar  2 08:3${n}:00 2026\n${HEAD}Subject: Mbox message ${n}\nMessage-ID: <mbox-${n}-${Math.random().toString(36).slice(2)}@t>\n\n${body}\n`;
    const raw = [message(1, 'One.'), message(2, 'Two, quoting:\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026\nnot a header'), message(3, 'Three.')].join('\n');
    const { lines, store } = await stdin(raw);
    expect(lines.map((l) => l.input)).toEqual(['mbox:stdin#1', 'mbox:stdin#2', 'mbox:stdin#3']);
    expect(lines.map((l) => l.outcome)).toEqual(['request_created', 'request_created', 'request_created']);
    expect(lines[1]!.note!.text).toBe('Two, quoting:\n\nFrom root@server.widget.example Mon Mar  2 07:00:00 2026\nnot a header');
    expect(readStore(store).requests.filter((r) => r.subject.startsWith('Mbox message'))).toHaveLength(3);
  });

  test('an mbox whose later messages carry only a Date: (no From:) is split too', async () => {
    const raw = `${ENVELOPE}${HEAD}Subject: First\nMessage-ID: <first-d@t>\n\nOne.\n\nFrom MAILER-DAEMON Mon Mar  2 08:31:00 2026\nDate: Mon, 02 Mar 2026 08:31:00 +0000\nSubject: Second\nMessage-ID: <second-d@t>\n\nTwo.\n`;
    const { lines } = await stdin(raw);
    expect(lines.map((l) => l.input)).toEqual(['mbox:stdin#1', 'mbox:stdin#2']);
  });
});

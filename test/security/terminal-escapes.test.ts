/**
 * Terminal escape sequences from mail (issue 16, item 8): what `process` (human output and
 * --explain), `list` and `show` print of a message shows ESC, CSI, BEL, CR, other C0 and C1
 * controls and bidi overrides escaped (`\x1b`, `\u202e`), never raw, so a subject cannot
 * retitle the operator's terminal, clear it or reorder what it shows. --json stays JSON.
 */
import { describe, expect, test } from '@jest/globals';
import { DEMO_NOW, demoStoreFile, jsonLines, runCli, tempDir } from '../helpers/cli.js';

const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
/** C1 CSI, a bidi override and an isolate: the other ways text can move what a terminal shows. */
const OTHERS = '\u009b31m \u202eevil\u202c \u2066x\u2069';
const SUBJECT = `Printer ${TITLE}broken${CLEAR} ${OTHERS}`;

// Raw control bytes and bidi formatting characters; TAB and the line ends of the output aside.
// eslint-disable-next-line no-control-regex
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const message = (body: string) => [
  'From: Ellen Brown <ellen.brown@widget.example>',
  'To: widget-it@mail.4me.com',
  `Subject: ${SUBJECT}`,
  'Date: Mon, 02 Mar 2026 08:30:00 +0000',
  'Message-ID: <esc-1@widget.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  body,
  '',
].join('\n');

const BODY = `#impact: ${CLEAR}high\n\nThe printer ${TITLE} is broken.\rNot really\x1b[1A.\nLine \u202eevil\u202c end.`;

function expectEscaped(out: string): void {
  expect(out).not.toMatch(RAW);
  expect(out).toContain('\\x1b]0;pwned\\x07');
  expect(out).toContain('\\x1b[2J');
}

describe('control characters from mail are shown escaped', () => {
  test('process: the human line and --explain', async () => {
    const store = demoStoreFile(tempDir());
    const run = await runCli(['process', '--explain', '--store', store, '--now', DEMO_NOW], { stdin: message(BODY) });
    expect(run.code).toBe(0);
    expectEscaped(run.stdout);
    expect(run.stdout).toContain('\\x9b31m \\u202eevil\\u202c \\u2066x\\u2069');
    expect(run.stderr).not.toMatch(RAW);
  });

  test('process: a warning quoting a parameter value', async () => {
    const store = demoStoreFile(tempDir());
    const raw = message(`#team: ${CLEAR}Nowhere${TITLE}\n\nDisk full.`).replace('Ellen Brown <ellen.brown@widget.example>', 'Nagios <nagios@monitoring.widget.example>');
    const run = await runCli(['process', '--store', store, '--now', DEMO_NOW], { stdin: raw });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/warning: #team: '\\x1b\[2JNowhere\\x1b\]0;pwned\\x07' names no team/);
    expectEscaped(run.stdout);
  });

  test('process: a stranger rejected, the reason and warnings escaped', async () => {
    const store = demoStoreFile(tempDir());
    const raw = message('Hello').replace('ellen.brown@widget.example', `mallory${CLEAR}@stranger.example`)
      .replace('From: Ellen Brown', `From: ${TITLE}`);
    const run = await runCli(['process', '--explain', '--store', store, '--now', DEMO_NOW], { stdin: raw });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(RAW);
    expect(run.stderr).not.toMatch(RAW);
  });

  test('list and show', async () => {
    const store = demoStoreFile(tempDir());
    const p = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: message(BODY) });
    const [line] = jsonLines(p.stdout);
    expect(line!.outcome).toBe('request_created');
    const list = await runCli(['list', 'requests', '--store', store]);
    expect(list.code).toBe(0);
    expectEscaped(list.stdout);
    const show = await runCli(['show', 'request', String(line!.record!.id), '--store', store]);
    expect(show.code).toBe(0);
    expectEscaped(show.stdout);
    // The note's own lines stay lines (a bare CR of the body was a line end); a cursor move is shown.
    expect(show.stdout).toContain('Not really\\x1b[1A.\n');
    expect(show.stdout).toContain('\\u202eevil\\u202c');
  });

  test('--json is JSON: no raw C0 control, and the subject reads back as it was sent', async () => {
    const store = demoStoreFile(tempDir());
    const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: message('Hello') });
    // eslint-disable-next-line no-control-regex
    expect(run.stdout.replace(/\n$/, '')).not.toMatch(/[\x00-\x1f\x7f]/);
    const [line] = jsonLines(run.stdout);
    expect(line!.request!.subject).toBe(SUBJECT.replace(/\s+/g, ' '));
    const show = await runCli(['show', 'request', String(line!.record!.id), '--json', '--store', store]);
    expect(JSON.parse(show.stdout).record.subject).toBe(line!.request!.subject);
  });
});

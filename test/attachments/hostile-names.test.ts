/**
 * Hostile attachment file names: none may place a file outside `<store>.files` (files are named
 * by their sha256 only), and the name kept in the note is a harmless display name.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredFile } from '../../src/store/schema.js';
import { demoStoreFile, readStore, tempDir } from '../helpers/cli.js';
import { file, html, message, multipart, processMessage, sha256, text, walk, type Part } from '../helpers/mime.js';

const ABS_DIR = join(tmpdir(), `m4me-hostile-${process.pid}-${Date.now()}`);

/** RFC 2231 extended parameter: any bytes, percent-encoded UTF-8. */
const ext = (name: string) => `; filename*=utf-8''${encodeURIComponent(name).replace(/'/g, '%27')}`;

interface Case { what: string; params: string; expected: string | RegExp }

const CASES: Case[] = [
  { what: 'relative traversal', params: '; filename="../../etc/passwd"', expected: 'passwd' },
  { what: 'deep traversal with backslashes', params: ext('..\\..\\..\\windows\\win.ini'), expected: 'win.ini' },
  { what: 'absolute path', params: `; filename="${ABS_DIR}/pwned.txt"`, expected: 'pwned.txt' },
  { what: 'absolute Windows path', params: ext('C:\\Windows\\System32\\drivers\\etc\\hosts'), expected: 'hosts' },
  { what: 'UNC path', params: ext('\\\\server\\share\\payroll.xlsx'), expected: 'payroll.xlsx' },
  { what: 'traversal in an RFC 2047 encoded word', params: `; filename="=?utf-8?B?${Buffer.from('../../../root/.ssh/authorized_keys').toString('base64')}?="`, expected: 'authorized_keys' },
  { what: 'traversal in an RFC 2231 parameter', params: ext('../../../../tmp/evil.sh'), expected: 'evil.sh' },
  { what: 'NUL byte', params: ext('report\u0000.pdf.exe'), expected: 'report.pdf.exe' },
  { what: 'C0 control characters and an ANSI escape', params: ext('bell\u0007\u001b[31mred\r\nline\t.txt'), expected: 'bell[31mredline.txt' },
  { what: 'C1 control characters (CSI, NEL)', params: ext('a\u009b2Jb\u0085c.txt'), expected: 'a2Jbc.txt' },
  { what: '5,000-character name', params: `; filename="${'a'.repeat(5000)}.pdf"`, expected: `${'a'.repeat(196)}.pdf` },
  { what: '5,000-character name in RFC 2231 continuations', params: Array.from({ length: 50 }, (_, i) => `;\n filename*${i}="${'b'.repeat(100)}"`).join('') + ';\n filename*50=".log"', expected: `${'b'.repeat(196)}.log` },
  { what: 'long name of astral characters (cut on a character boundary)', params: ext(`x${'\u{1F600}'.repeat(3000)}.txt`), expected: /^x(\u{1F600})+\.txt$/u },
  { what: 'Windows reserved CON', params: '; filename="CON"', expected: '_CON' },
  { what: 'Windows reserved nul.txt', params: '; filename="nul.txt"', expected: '_nul.txt' },
  { what: 'Windows reserved LPT1 with extension', params: '; filename="lpt1.tar.gz"', expected: '_lpt1.tar.gz' },
  { what: 'Windows reserved COM9 in a path', params: ext('C:\\temp\\COM9'), expected: '_COM9' },
  { what: 'right-to-left override', params: ext('invoice\u202Efdp.exe'), expected: 'invoicefdp.exe' },
  { what: 'other bidi controls', params: ext('\u2067photo\u2069\u200f.jpg\u202a'), expected: 'photo.jpg' },
  { what: 'hidden dot file', params: '; filename=".bashrc"', expected: 'bashrc' },
  { what: 'nothing but dots and slashes', params: '; filename="../../.."', expected: /^attachment\.[a-z0-9]+$/ },
  { what: 'nothing but control characters', params: ext('\u0001\u0002\u202e'), expected: /^attachment\.[a-z0-9]+$/ },
];

/** What a display name must never contain, whatever the mail said. */
function isHarmless(name: string): boolean {
  return name.length > 0 && [...name].length <= 200 && !/[/\\]/.test(name)
    // eslint-disable-next-line no-control-regex
    && !/[\u0000-\u001f\u007f-\u009f]/.test(name)
    && !/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(name)
    && !/^\./.test(name) && !/^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i.test(name)
    && !/\p{Cs}/u.test(name); // no lone surrogate
}

/** Only the store, its content-addressed files and its outbox are in the folder. */
function expectOnlyStoreFiles(dir: string): void {
  for (const p of walk(dir)) {
    expect(p).toMatch(/^(store\.json|store\.json\.log|m4me\.config\.json|store\.json\.files\/[0-9a-f]{2}\/[0-9a-f]{64}|store\.json\.outbox\/[^/]+\.eml)$/);
  }
  for (const p of walk(join(dir, 'store.json.files'))) {
    const [prefix, hash] = p.split('/');
    expect(hash!.startsWith(prefix!)).toBe(true);
    expect(sha256(readFileSync(join(dir, 'store.json.files', p)))).toBe(hash);
  }
}

describe('hostile attachment file names', () => {
  test('every hostile name becomes a harmless display name, and no file is written outside <store>.files', async () => {
    const dir = tempDir();
    const cwd = join(dir, 'cwd');
    mkdirSync(cwd);
    const parts: Part[] = [text('Files with hostile names.')];
    CASES.forEach((c, i) => parts.push(file(`content of case ${i}: ${c.what}\n`, { type: 'application/octet-stream', dispositionParams: c.params })));
    const { line, store, run } = await processMessage(message({ id: 'hostile-1@widget.example' }, multipart('mixed', parts)), {
      store: demoStoreFile(dir), config: { maxAttachments: 50 }, cwd,
    });
    expect(run.code).toBe(0);
    expect(line.outcome).toBe('request_created');
    const note = readStore(store).notes.find((n) => n.id === line.note!.id)!;
    expect(note.attachments).toHaveLength(CASES.length);
    const wrong: string[] = [];
    CASES.forEach((c, i) => {
      const content = Buffer.from(`content of case ${i}: ${c.what}\n`);
      const entry = note.attachments.find((a) => a.sha256 === sha256(content)) as StoredFile | undefined;
      if (!entry) { wrong.push(`${c.what}: not attached`); return; }
      const ok = typeof c.expected === 'string' ? entry.filename === c.expected : c.expected.test(entry.filename);
      if (!ok || !isHarmless(entry.filename)) wrong.push(`${c.what}: ${JSON.stringify(entry.filename)}`);
      expect(entry.path).toBe(`store.json.files/${entry.sha256.slice(0, 2)}/${entry.sha256}`);
      expect(readFileSync(join(dir, entry.path))).toEqual(content);
    });
    expect(wrong).toEqual([]);
    // The JSON output says the same as the store.
    expect(line.note!.attachments).toEqual(note.attachments);
    expectOnlyStoreFiles(dir);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(ABS_DIR)).toBe(false);
  });

  test('a hostile name on an inline image: sanitised in inline_images and in the [image: …] marker of the text', async () => {
    const png = Buffer.from('not really a png');
    const raw = message({ id: 'hostile-inline@widget.example' }, multipart('related', [
      html('<p>Look:</p><img src="cid:evil@x"><p>Done.</p>'),
      file(png, { type: 'image/png', disposition: 'inline', cid: 'evil@x', dispositionParams: ext('../../etc/\u202egnp.exe\u0007') }),
    ]));
    const { line, dir } = await processMessage(raw);
    expectOnlyStoreFiles(dir);
    const img = line.note!.inline_images[0]!;
    expect(isHarmless(img.filename)).toBe(true);
    expect(img.filename).toBe('gnp.exe');
    expect(img.content_id).toBe('evil@x');
    expect(line.note!.text).toContain(`[image: ${img.filename}]`);
    expect(line.note!.text).not.toMatch(/[\u0007\u202e]|\.\.\//);
  });
});

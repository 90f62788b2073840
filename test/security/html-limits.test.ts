/**
 * HTML conversion is bounded and silent, through the real CLI: 100,000 nested elements do
 * not overflow the stack (the text past the depth limit is kept as plain text), and HTML
 * longer than html-to-text's own limit prints nothing to stderr (its truncation notice there
 * makes getmail retry the delivery forever).
 */
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';

const head = (type: string) => [
  'From: Ellen Brown <ellen.brown@widget.example>', 'To: widget-it@mail.4me.com', 'Subject: Printer on floor 3',
  'Date: Mon, 02 Mar 2026 08:30:00 +0000', `Message-ID: <${Math.random().toString(36).slice(2)}@widget.example>`,
  'MIME-Version: 1.0', `Content-Type: ${type}`, '',
].join('\n');
const htmlMail = (html: string) => `${head('text/html; charset=utf-8')}\n${html}\n`;
/** The HTML as the only part of a multipart/mixed message: mailparser tries to convert it first. */
const mixedMail = (html: string) => `${head('multipart/mixed; boundary="b1"')}\n--b1\nContent-Type: text/html; charset=utf-8\n\n${html}\n--b1--\n`;
const nested = (tag: string, n: number, inner: string) => `<${tag}>`.repeat(n) + inner + `</${tag}>`.repeat(n);

async function processFiles(files: Record<string, string>) {
  const dir = tempDir();
  const store = demoStoreFile(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const run = await runCli(['process', '--store', store, '--now', DEMO_NOW, '--json', ...Object.keys(files).map((f) => join(dir, f))]);
  const results = run.code === 0 || run.code === 75 || run.code === 65 ? jsonLines(run.stdout) : [];
  const notes = readStore(store).notes ?? [];
  const text = (i: number) => notes.filter((n) => n.record.type === results[i]?.record?.type && n.record.id === results[i]?.record?.id)
    .map((n) => n.text).join('\n');
  return { run, results, text };
}

describe('HTML conversion through the CLI', () => {
  test('100,000 nested <div>s, <b>s and list items: a request, the deep text kept, nothing on stderr', async () => {
    const { run, results, text } = await processFiles({
      'div.eml': htmlMail(`<html><body><p>Before.</p>${nested('div', 100_000, 'deep div text')}<p>After.</p></body></html>`),
      'b.eml': htmlMail(`<html><body>${nested('b', 100_000, 'deep b text')}</body></html>`),
      'li.eml': mixedMail(`<html><body>${'<ul><li>'.repeat(100_000)}deep list text</body></html>`),
    });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(results.map((r) => r.outcome)).toEqual(['request_created', 'request_created', 'request_created']);
    expect(text(0)).toContain('Before.');
    expect(text(0)).toContain('deep div text');
    expect(text(0)).toContain('After.');
    expect(text(1)).toContain('deep b text');
    expect(text(2)).toContain('deep list text');
  }, 120_000);

  test('HTML past html-to-text\'s 16 M characters: converted up to the limit, nothing on stderr', async () => {
    const para = '<p>The printer on floor 3 shows error E-204 again.</p>\n';
    const html = `<html><body><p>First paragraph.</p>${para.repeat(Math.ceil((17 << 20) / para.length))}</body></html>`;
    const { run, results, text } = await processFiles({ 'big.eml': htmlMail(html) });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(results.map((r) => r.outcome)).toEqual(['request_created']);
    expect(text(0).startsWith('First paragraph.')).toBe(true);
    expect(text(0).endsWith('…')).toBe(true);
  }, 180_000);
});

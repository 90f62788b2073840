/**
 * Attachments and inline images in every MIME shape, end to end through the CLI: the note's
 * `attachments` / `inline_images` entries and the content-addressed files beside the store.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Note, StoredFile } from '../../src/store/schema.js';
import { readStore } from '../helpers/cli.js';
import { file, html, message, multipart, processMessage, sha256, text, walk, type Part } from '../helpers/mime.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from('%PDF-1.4\n% scanner log\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n');
const CSV = Buffer.from('host,status\nmail1,down\nmail2,up\n');

/** The stored file entry of `content` with this display name, and its bytes on disk. */
function expectStored(store: string, entry: StoredFile | undefined, content: Buffer, filename: string, contentType: string): void {
  const hash = sha256(content);
  expect(entry).toEqual(expect.objectContaining({
    filename, content_type: contentType, size: content.length, sha256: hash, path: `store.json.files/${hash.slice(0, 2)}/${hash}`,
  }));
  expect(readFileSync(join(store, '..', entry!.path))).toEqual(content);
}

/** The note as printed and as stored must be the same. */
function storedNote(store: string, printed: Note | undefined): Note {
  expect(printed).toBeDefined();
  const note = readStore(store).notes.find((n) => n.id === printed!.id)!;
  expect(note).toEqual(printed);
  return note;
}

function uuencode(content: Buffer, name: string): string {
  const ch = (n: number) => (n === 0 ? '`' : String.fromCharCode(n + 32));
  const lines = [`begin 644 ${name}`];
  for (let i = 0; i < content.length; i += 45) {
    const chunk = content.subarray(i, i + 45);
    let line = ch(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const [a = 0, b = 0, c = 0] = [chunk[j], chunk[j + 1], chunk[j + 2]];
      line += ch(a >> 2) + ch(((a & 3) << 4) | (b >> 4)) + ch(((b & 15) << 2) | (c >> 6)) + ch(c & 63);
    }
    lines.push(line);
  }
  lines.push('`', 'end');
  return lines.join('\n');
}

describe('attachment shapes', () => {
  test('multipart/mixed: text and two attachments, each stored under <store>.files/ab/<sha256>', async () => {
    const raw = message({ id: 'mixed-1@widget.example' }, multipart('mixed', [
      text('The log and the host list are attached.'),
      file(PDF, { type: 'application/pdf', filename: 'scanner-log.pdf' }),
      file(CSV, { type: 'text/csv', filename: 'hosts.csv' }),
    ]));
    const { line, store, run } = await processMessage(raw);
    expect(run.code).toBe(0);
    expect(line).toMatchObject({ outcome: 'request_created', rule: 'create.new_request' });
    const note = storedNote(store, line.note);
    expect(note.text).toBe('The log and the host list are attached.');
    expect(note.attachments).toHaveLength(2);
    expectStored(store, note.attachments[0], PDF, 'scanner-log.pdf', 'application/pdf');
    expectStored(store, note.attachments[1], CSV, 'hosts.csv', 'text/csv');
    expect(note.inline_images).toEqual([]);
    expect(line.trace).toContainEqual(expect.objectContaining({ rule: 'note.attachments', result: 'applied', detail: '2 attachment(s), 0 inline image(s)' }));
  });

  test('nested multiparts: mixed > alternative > related, the cid image inline and the PDF attached', async () => {
    const raw = message({ id: 'nested-1@widget.example' }, multipart('mixed', [
      multipart('alternative', [
        text('The scanner shows this error.'),
        multipart('related', [
          html('<p>The scanner shows this error:</p><p><img src="cid:shot1@widget.example"></p>'),
          file(PNG, { type: 'image/png', filename: 'screenshot.png', disposition: 'inline', cid: 'shot1@widget.example' }),
        ]),
      ]),
      file(PDF, { type: 'application/pdf', filename: 'scanner-log.pdf' }),
    ]));
    const { line, store } = await processMessage(raw);
    expect(line.outcome).toBe('request_created');
    const note = storedNote(store, line.note);
    // The text part says nothing of where the image stood: its marker is at the end.
    expect(note.text).toBe('The scanner shows this error.\n\n[image: screenshot.png]');
    expect(note.attachments).toHaveLength(1);
    expectStored(store, note.attachments[0], PDF, 'scanner-log.pdf', 'application/pdf');
    expect(note.inline_images).toHaveLength(1);
    expectStored(store, note.inline_images[0], PNG, 'screenshot.png', 'image/png');
    expect(note.inline_images[0]!.content_id).toBe('shot1@widget.example');
  });

  test('HTML-only mail: an image referenced by cid is an inline image, and the text marks where it stood', async () => {
    const raw = message({ id: 'cid-1@widget.example' }, multipart('related', [
      html('<p>Before the picture.</p><p><img src="cid:pic@x"></p><p>After the picture.</p>'),
      // No Content-Disposition at all, as many clients send it.
      file(PNG, { type: 'image/png', filename: null, disposition: null, cid: 'pic@x', typeParams: '; name="error dialog.png"' }),
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.text).toMatch(/Before the picture\.\s*\[image: error dialog\.png\]\s*After the picture\./);
    expect(note.attachments).toEqual([]);
    expect(note.inline_images).toHaveLength(1);
    expectStored(store, note.inline_images[0], PNG, 'error dialog.png', 'image/png');
    expect(note.inline_images[0]!.content_id).toBe('pic@x');
  });

  test('an image with Content-Disposition: inline and no Content-ID is an inline image (content_id empty)', async () => {
    const raw = message({ id: 'inline-nocid@widget.example' }, multipart('mixed', [
      text('See the picture below.'),
      file(PNG, { type: 'image/png', filename: 'photo.png', disposition: 'inline' }),
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.text).toBe('See the picture below.\n\n[image: photo.png]');
    expect(note.attachments).toEqual([]);
    expect(note.inline_images).toHaveLength(1);
    expectStored(store, note.inline_images[0], PNG, 'photo.png', 'image/png');
    expect(note.inline_images[0]!.content_id).toBe('');
  });

  test('an image attached (disposition attachment, no cid) stays an attachment', async () => {
    const raw = message({ id: 'img-attached@widget.example' }, multipart('mixed', [
      text('Photo attached.'),
      file(PNG, { type: 'image/png', filename: 'photo.png' }),
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.inline_images).toEqual([]);
    expectStored(store, note.attachments[0], PNG, 'photo.png', 'image/png');
  });

  test('a non-image part with Content-Disposition: inline (a PDF) is an attachment, not an inline image', async () => {
    const raw = message({ id: 'pdf-inline@widget.example' }, multipart('mixed', [
      text('PDF shown inline by my client.'),
      file(PDF, { type: 'application/pdf', filename: 'inline.pdf', disposition: 'inline' }),
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.inline_images).toEqual([]);
    expectStored(store, note.attachments[0], PDF, 'inline.pdf', 'application/pdf');
  });

  test('a forwarded message (message/rfc822) is attached whole, its own attachment not unpacked', async () => {
    const inner = message({ id: 'inner@widget.example', subject: 'Original problem report', from: 'Beatrice Baldwin <beatrice.baldwin@widget.example>' },
      multipart('mixed', [text('The original text.'), file(CSV, { type: 'text/csv', filename: 'inner.csv' })]));
    const raw = message({ id: 'fwd-1@widget.example', subject: 'Fwd: Original problem report' }, multipart('mixed', [
      text('Forwarding this one.'),
      { headers: ['Content-Type: message/rfc822', 'Content-Disposition: attachment; filename="original.eml"'], body: inner },
    ]));
    const { line, store } = await processMessage(raw);
    expect(line.outcome).toBe('request_created');
    const note = storedNote(store, line.note);
    expect(note.text).toBe('Forwarding this one.');
    expect(note.attachments).toHaveLength(1);
    const entry = note.attachments[0]!;
    expect(entry).toMatchObject({ filename: 'original.eml', content_type: 'message/rfc822' });
    const bytes = readFileSync(join(store, '..', entry.path));
    expect(entry.sha256).toBe(sha256(bytes));
    expect(entry.size).toBe(bytes.length);
    expect(bytes.toString()).toContain('Subject: Original problem report');
    // The forwarded mail's headers are not the message's: the sender is still Ellen.
    expect(line.request!.requested_by).toBe(1001);
  });

  test('a forwarded message without a file name gets a neutral display name', async () => {
    const inner = message({ id: 'inner2@widget.example', subject: 'Inner' }, text('Inner text.'));
    const raw = message({ id: 'fwd-2@widget.example' }, multipart('mixed', [
      text('Forwarded, no name.'),
      { headers: ['Content-Type: message/rfc822', 'Content-Disposition: attachment'], body: inner },
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.attachments).toHaveLength(1);
    expect(note.attachments[0]!.filename).toMatch(/^[A-Za-z0-9._ -]+$/);
    expect(note.attachments[0]!.content_type).toBe('message/rfc822');
  });

  test('a uuencoded part (Content-Transfer-Encoding: x-uuencode) is stored decoded', async () => {
    const content = Buffer.concat([PNG, Buffer.from([0, 1, 2, 254, 255]), CSV]);
    const raw = message({ id: 'uu-1@widget.example' }, multipart('mixed', [
      text('Old mail client, uuencoded attachment.'),
      { headers: ['Content-Type: application/octet-stream; name="dump.bin"', 'Content-Transfer-Encoding: x-uuencode', 'Content-Disposition: attachment; filename="dump.bin"'], body: uuencode(content, 'dump.bin') },
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.attachments).toHaveLength(1);
    expectStored(store, note.attachments[0], content, 'dump.bin', 'application/octet-stream');
  });

  test('a uuencoded part without a file name takes the name from its begin line', async () => {
    const raw = message({ id: 'uu-2@widget.example' }, multipart('mixed', [
      text('uuencoded, name only in the begin line.'),
      { headers: ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: uuencode'], body: uuencode(CSV, 'hosts.csv') },
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.attachments).toHaveLength(1);
    const e = note.attachments[0]!;
    expect(e).toMatchObject({ filename: 'hosts.csv', size: CSV.length, sha256: sha256(CSV) });
    expect(readFileSync(join(store, '..', e.path))).toEqual(CSV);
  });

  test('a uuencoded part whose begin line is missing is still decoded; text that is not uuencoded is kept as it is', async () => {
    const body = uuencode(CSV, 'x').split('\n').slice(1).join('\n');
    const raw = message({ id: 'uu-3@widget.example' }, multipart('mixed', [
      text('No begin line.'),
      { headers: ['Content-Type: text/csv', 'Content-Transfer-Encoding: x-uuencode', 'Content-Disposition: attachment; filename="hosts.csv"'], body },
      { headers: ['Content-Type: text/plain', 'Content-Transfer-Encoding: x-uuencode', 'Content-Disposition: attachment; filename="plain.txt"'], body: 'just plain text, mislabelled' },
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expectStored(store, note.attachments[0], CSV, 'hosts.csv', 'text/csv');
    expect(readFileSync(join(store, '..', note.attachments[1]!.path), 'utf8')).toBe('just plain text, mislabelled');
  });

  test('a nameless part gets a display name from its content type', async () => {
    const raw = message({ id: 'nameless-1@widget.example' }, multipart('mixed', [
      text('Two parts without names.'),
      file(PDF, { type: 'application/pdf', filename: null }),
      file(CSV, { type: 'application/octet-stream', filename: null, disposition: null }),
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.attachments).toHaveLength(2);
    expectStored(store, note.attachments[0], PDF, 'attachment.pdf', 'application/pdf');
    const second = note.attachments[1]!;
    expect(second).toMatchObject({ sha256: sha256(CSV), size: CSV.length, content_type: 'application/octet-stream' });
    expect(second.filename).toMatch(/^attachment\.[a-z0-9]+$/);
  });

  test('a part with an empty Content-Type header is an application/octet-stream attachment (found by fuzzing)', async () => {
    const raw = message({ id: 'empty-type@widget.example' }, multipart('mixed', [
      text('Odd part below.'), { headers: ['Content-Type:', 'Content-Disposition: attachment; filename="odd.dat"'], body: 'odd bytes' },
    ]));
    const { line, store, run } = await processMessage(raw);
    expect(run.code).toBe(0);
    expect(line.outcome).toBe('request_created');
    const note = storedNote(store, line.note);
    expectStored(store, note.attachments[0], Buffer.from('odd bytes'), 'odd.dat', 'application/octet-stream');
  });

  test('more than 20 attachments: the first 20 are kept, the rest dropped with a warning naming them', async () => {
    const parts: Part[] = [text('Twenty-two files.')];
    for (let i = 1; i <= 22; i++) parts.push(file(`file number ${i}\n`, { type: 'text/plain', filename: `file-${String(i).padStart(2, '0')}.txt` }));
    // An inline image does not count towards the limit.
    parts.push(file(PNG, { type: 'image/png', filename: 'inline.png', disposition: 'inline', cid: 'in@x' }));
    const { line, store } = await processMessage(message({ id: 'many-1@widget.example' }, multipart('mixed', parts)));
    expect(line.outcome).toBe('request_created');
    const note = storedNote(store, line.note);
    expect(note.attachments.map((a) => a.filename)).toEqual(Array.from({ length: 20 }, (_, i) => `file-${String(i + 1).padStart(2, '0')}.txt`));
    expect(note.inline_images.map((a) => a.filename)).toEqual(['inline.png']);
    const warning = line.warnings.find((w) => /over the limit/.test(w));
    expect(warning).toMatch(/2 attachments over the limit of 20 dropped/);
    expect(warning).toMatch(/file-21\.txt, file-22\.txt/);
    expect(warning).not.toMatch(/file-20\.txt/);
    // The dropped files are not written.
    const files = walk(`${store}.files`);
    expect(files).toHaveLength(21);
    expect(files).not.toContain(`${sha256('file number 21\n').slice(0, 2)}/${sha256('file number 21\n')}`);
  });

  test('maxAttachments from the configuration is honoured', async () => {
    const parts: Part[] = [text('Three files.')];
    for (let i = 1; i <= 3; i++) parts.push(file(`f${i}\n`, { type: 'text/plain', filename: `f${i}.txt` }));
    const { line } = await processMessage(message({ id: 'many-2@widget.example' }, multipart('mixed', parts)), { config: { maxAttachments: 2 } });
    expect(line.note!.attachments.map((a) => a.filename)).toEqual(['f1.txt', 'f2.txt']);
    expect(line.warnings).toContainEqual(expect.stringMatching(/1 attachments? over the limit of 2 dropped: f3\.txt/));
  });

  test('identical files are stored once: twice in one message, and again in a second message', async () => {
    const raw = message({ id: 'same-1@widget.example' }, multipart('mixed', [
      text('The same file twice.'),
      file(PDF, { type: 'application/pdf', filename: 'a.pdf' }),
      file(PDF, { type: 'application/pdf', filename: 'b.pdf' }),
      file(PDF, { type: 'image/png', filename: 'c.png', disposition: 'inline', cid: 'c@x' }),
    ]));
    const first = await processMessage(raw);
    const note = storedNote(first.store, first.line.note);
    expect(note.attachments.map((a) => a.filename)).toEqual(['a.pdf', 'b.pdf']);
    expect(note.inline_images.map((a) => a.filename)).toEqual(['c.png']);
    const paths = new Set([...note.attachments, ...note.inline_images].map((a) => a.path));
    expect(paths.size).toBe(1);
    expect(walk(`${first.store}.files`)).toEqual([`${sha256(PDF).slice(0, 2)}/${sha256(PDF)}`]);

    const again = message({ id: 'same-2@widget.example', subject: 'Another one' }, multipart('mixed', [
      text('And once more.'), file(PDF, { type: 'application/pdf', filename: 'again.pdf' }),
    ]));
    const second = await processMessage(again, { store: first.store });
    expect(second.line.note!.attachments[0]!.path).toBe([...paths][0]);
    expect(walk(`${first.store}.files`)).toHaveLength(1);
    // Only the store, its files, its delivery log and the outbox were written in the temp folder.
    expect(walk(first.dir).filter((p) => !p.startsWith('store.json.outbox/') && !p.startsWith('store.json.files/'))).toEqual(['store.json', 'store.json.log']);
  });

  test('an empty attachment is stored as an empty file', async () => {
    const raw = message({ id: 'empty-att@widget.example' }, multipart('mixed', [
      text('Empty file.'), { headers: ['Content-Type: text/plain', 'Content-Disposition: attachment; filename="empty.txt"'], body: '' },
    ]));
    const { line, store } = await processMessage(raw);
    const note = storedNote(store, line.note);
    expect(note.attachments).toHaveLength(1);
    expect(note.attachments[0]).toMatchObject({ filename: 'empty.txt', size: 0, sha256: sha256('') });
    expect(existsSync(join(store, '..', note.attachments[0]!.path))).toBe(true);
  });

  test('a message with only attachments (no text) still gets a note carrying them', async () => {
    const raw = message({ id: 'only-att@widget.example' }, multipart('mixed', [file(CSV, { type: 'text/csv', filename: 'hosts.csv' })]));
    const { line, store } = await processMessage(raw);
    expect(line.outcome).toBe('request_created');
    const note = storedNote(store, line.note);
    expect(note.text).toBe('');
    expectStored(store, note.attachments[0], CSV, 'hosts.csv', 'text/csv');
  });

  test('a reply that becomes a note carries its attachments too', async () => {
    const raw = message({ id: 'reply-att@widget.example', subject: 'Re: VPN drops every hour', headers: ['In-Reply-To: <notify-100001-1@mail.4me.com>'] },
      multipart('mixed', [text('Log attached.'), file(CSV, { type: 'text/csv', filename: 'vpn.csv' })]));
    const { line, store } = await processMessage(raw);
    expect(line).toMatchObject({ outcome: 'note_added', rule: 'match.notification_reply', record: { type: 'request', id: 100001 } });
    const note = storedNote(store, line.note);
    expectStored(store, note.attachments[0], CSV, 'vpn.csv', 'text/csv');
  });

  test('--dry-run writes no attachment file', async () => {
    const raw = message({ id: 'dry-att@widget.example' }, multipart('mixed', [text('x'), file(CSV, { type: 'text/csv', filename: 'hosts.csv' })]));
    const { line, store } = await processMessage(raw, { args: ['--dry-run'] });
    expect(line.note!.attachments).toHaveLength(1);
    expect(existsSync(`${store}.files`)).toBe(false);
  });
});

/**
 * The renderer is the second line of defence against header injection: whatever an
 * OutgoingMail holds (the engine already checked it), renderOutgoing never writes a CR or
 * LF into a header, drops an unusable Message-ID from In-Reply-To and References, and
 * refuses to write a reply whose From, To or own Message-ID is not plain.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import type { OutgoingMail } from '../../src/engine/types.js';
import { UnsafeHeaderError } from '../../src/store/header-fields.js';
import { renderOutgoing } from '../../src/store/outbox.js';

const BCC = '\r\nBcc: victim@third.example\r\n\r\nBUY PILLS';
const base: OutgoingMail = {
  kind: 'email_rejected', messageId: 'm4me.rejected.0123456789abcdef@mail.4me.com',
  to: 'stranger@evil.example', from: 'widget-it@mail.4me.com', subject: 'Email Rejected: hello',
  inReplyTo: 'a@b.example', references: ['a@b.example'], text: 'Hello.', date: '2026-03-02T09:00:00+00:00',
};

function expectClean(eml: string): void {
  expect(eml.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  const head = eml.slice(0, eml.indexOf('\r\n\r\n'));
  for (const line of head.split('\r\n')) {
    expect(line.length).toBeLessThanOrEqual(78);
    expect(line).toMatch(/^[\x20-\x7e]*$/);
  }
}

describe('renderOutgoing', () => {
  test.each([
    ['To', { to: `stranger@evil.example${BCC}` }],
    ['To with a display name', { to: 'Evil <stranger@evil.example>' }],
    ['To with two addresses', { to: 'stranger@evil.example, victim@third.example' }],
    ['From', { from: `widget-it@mail.4me.com\rBcc: victim@third.example` }],
    ['Message-ID', { messageId: `x@y${BCC}` }],
  ])('refuses an unsafe %s', (_name, patch) => {
    expect(() => renderOutgoing({ ...base, ...patch })).toThrow(UnsafeHeaderError);
  });

  test('drops unusable IDs of In-Reply-To and References, keeps the rest', async () => {
    const eml = renderOutgoing({ ...base, inReplyTo: `a@b${BCC}`, references: ['ok-1@x.example', `bad@x${BCC}`, 'no-at-sign', 'ok-2@x.example'] });
    expectClean(eml);
    const mail = await simpleParser(eml);
    expect(mail.inReplyTo).toBeUndefined();
    expect(mail.references).toEqual(['<ok-1@x.example>', '<ok-2@x.example>']);
    expect(mail.bcc).toBeUndefined();
  });

  test('a subject and body with CR, LF, ESC and a literal encoded word stay text', async () => {
    const literal = `=?UTF-8?B?${Buffer.from(BCC).toString('base64')}?=`;
    const eml = renderOutgoing({ ...base, subject: `Email Rejected: hi${BCC}\x1b[2J ${literal}`, text: `one\rtwo\nthree\r\nfour\x1b]0;x\x07` });
    expectClean(eml);
    const mail = await simpleParser(eml);
    expect(mail.bcc).toBeUndefined();
    // The literal encoded word reads back as the characters it is, not as the CRLF it spells.
    expect(mail.subject).toBe(`Email Rejected: hi Bcc: victim@third.example BUY PILLS [2J ${literal}`);
    expect(eml.slice(eml.indexOf('\r\n\r\n') + 4)).toBe('one\r\ntwo\r\nthree\r\nfour]0;x\r\n');
  });

  test('a 2,000-character subject of one word is encoded and folded; a long body line is cut below 998 bytes', async () => {
    const word = 'ü'.repeat(2000);
    const eml = renderOutgoing({ ...base, subject: word, text: 'x'.repeat(5000) });
    expectClean(eml);
    for (const line of eml.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    const mail = await simpleParser(eml);
    expect(mail.subject).toMatch(/^ü+…$/);
  });

  test('any subject, IDs and text (fast-check): CRLF-only lines, plain folded headers, one To, no Cc or Bcc', async () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }),
      fc.array(fc.constantFrom('\r', '\n', '\r\n', 'Bcc: v@t.example', ' ', '@', '<', '>', '=?UTF-8?B?DQpCY2M6IHZAdA==?=', 'ü', '\x1b[2J', 'a'), { maxLength: 30 }).map((a) => a.join('')),
    );
    await fc.assert(fc.asyncProperty(hostile, fc.option(hostile), fc.array(hostile, { maxLength: 5 }), hostile, async (subject, inReplyTo, references, text) => {
      const eml = renderOutgoing({ ...base, subject, inReplyTo, references, text });
      expectClean(eml);
      const mail = await simpleParser(eml);
      expect(mail.cc).toBeUndefined();
      expect(mail.bcc).toBeUndefined();
      expect(mail.headerLines.map((h) => h.key).filter((k) => k === 'to' || k === 'from')).toEqual(['from', 'to']);
      expect((Array.isArray(mail.to) ? mail.to : [mail.to!]).flatMap((a) => a.value.map((v) => v.address))).toEqual([base.to]);
    }), { seed: 20261203, numRuns: 300 });
  });
});

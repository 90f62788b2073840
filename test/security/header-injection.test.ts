/**
 * Header injection (issue 16, item 1), through the CLI: a CR, an LF or a CRLF smuggled into
 * any value m4me copies into a reply (Message-ID, References, In-Reply-To, Subject, From
 * display name and address, Delivered-To standing in for the envelope recipient) must never
 * become a header of the 'Email Rejected' reply or of the acknowledgement. Each outbox file
 * is read back with mailparser: exactly the intended recipient, exactly m4me's header set,
 * no bare CR or LF, no line over 998 (nor, for these short values, over 78). Nor may such a
 * Message-ID become a sourceID or a ledger key.
 */
import { describe, expect, test } from '@jest/globals';
import { simpleParser } from 'mailparser';
import { readStore } from '../helpers/cli.js';
import { outbox, processMessage, type Processed } from '../helpers/mime.js';

const BREAKS = { crlf: '\r\n', lf: '\n', cr: '\r' } as const;
type Break = keyof typeof BREAKS;

const enc = (s: string) => `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
/** The issue's payload: an ID, then a Bcc header, then a body of the attacker's own. */
const payload = (br: string) => `<a@b>${br}Bcc: victim@third.example${br}${br}BUY PILLS`;

const STRANGER = 'stranger@evil.example';
const ELLEN = 'ellen.brown@widget.example';

/** Every header m4me writes on a reply; In-Reply-To and References only when there is a valid ID. */
const REQUIRED = ['from', 'to', 'subject', 'date', 'message-id', 'auto-submitted', 'x-auto-response-suppress',
  'x-m4me-kind', 'mime-version', 'content-type', 'content-transfer-encoding'];
const OPTIONAL = ['in-reply-to', 'references'];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

interface Injection { name: string; from: string; to?: string; headers: string[]; subject?: string }

/** The injections for one sender: each header m4me copies, as an encoded word and as raw bytes where they survive. */
function injections(sender: string, br: Break): Injection[] {
  const b = BREAKS[br];
  const p = payload(b);
  const from = `Someone <${sender}>`;
  const list: Injection[] = [
    { name: 'Message-ID (encoded)', from, headers: [`Message-ID: ${enc(p)}`] },
    { name: 'References (encoded)', from, headers: ['Message-ID: <ok-1@widget.example>', `References: <ref-1@widget.example> ${enc(p)}`] },
    { name: 'In-Reply-To (encoded)', from, headers: ['Message-ID: <ok-2@widget.example>', `In-Reply-To: ${enc(p)}`] },
    { name: 'Subject (encoded)', from, headers: ['Message-ID: <ok-3@widget.example>'], subject: enc(`Help${b}Bcc: victim@third.example${b}${b}BUY PILLS`) },
    { name: 'From display name (encoded)', from: `${enc(`Evil${b}Bcc: victim@third.example`)} <${sender}>`, headers: ['Message-ID: <ok-4@widget.example>'] },
    { name: 'From display name (quoted)', from: `"Evil${br === 'cr' ? b : ''} Bcc: victim@third.example" <${sender}>`, headers: ['Message-ID: <ok-5@widget.example>'] },
    { name: 'From address (encoded)', from: `Evil <${enc(`${sender}${b}Bcc: victim@third.example`)}>`, headers: ['Message-ID: <ok-6@widget.example>'] },
    {
      name: 'Delivered-To, no envelope recipient (encoded)', from, to: 'nobody@mail.4me.com',
      headers: ['Message-ID: <ok-7@widget.example>', `Delivered-To: ${enc(`victim@third.example${b}Bcc: victim@third.example, nobody@mail.4me.com`)}`],
    },
  ];
  if (br === 'cr') {
    // A bare CR does not end a header line on the way in: the raw byte reaches the value.
    list.push(
      { name: 'Message-ID (raw)', from, headers: [`Message-ID: <a@b>${b}Bcc: victim@third.example`] },
      { name: 'References (raw)', from, headers: ['Message-ID: <ok-8@widget.example>', `References: <r@b>${b}Bcc: victim@third.example`] },
      { name: 'In-Reply-To (raw)', from, headers: ['Message-ID: <ok-9@widget.example>', `In-Reply-To: <i@b>${b}Bcc: victim@third.example`] },
      { name: 'Subject (raw)', from, headers: ['Message-ID: <ok-10@widget.example>'], subject: `Help${b}Bcc: victim@third.example` },
      { name: 'From address (raw)', from: `Evil <${sender}${b}Bcc: victim@third.example>`, headers: ['Message-ID: <ok-11@widget.example>'] },
      {
        name: 'Delivered-To, no envelope recipient (raw)', from, to: 'nobody@mail.4me.com',
        headers: ['Message-ID: <ok-12@widget.example>', `Delivered-To: victim@third.example${b}Bcc: victim@third.example, nobody@mail.4me.com`],
      },
    );
  }
  return list;
}

function raw(i: Injection): string {
  return [
    `From: ${i.from}`,
    `To: ${i.to ?? 'widget-it@mail.4me.com'}`,
    `Subject: ${i.subject ?? 'Printer is broken'}`,
    'Date: Mon, 02 Mar 2026 08:30:00 +0000',
    ...i.headers,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'The printer on floor 3 is broken.',
    '',
  ].join('\n');
}

/** What each reply in the outbox must look like, read by mailparser and byte by byte. */
type Kind = 'email_rejected' | 'acknowledgement';
async function expectSafeReplies(p: Processed, recipient: string, kinds: Kind | Kind[]): Promise<number> {
  const files = outbox(p.store);
  for (const f of files) {
    const text = f.text;
    // Every line ends CRLF: no bare CR, no bare LF anywhere in the file.
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const [head, ...rest] = text.split('\r\n\r\n');
    const body = rest.join('\r\n\r\n');
    for (const line of head!.split('\r\n')) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
      expect(line).not.toMatch(CONTROL);
    }
    for (const line of body.split('\r\n')) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
      expect(line).not.toMatch(/^\s*bcc\s*:/i);
      expect(line.replace(/\t/g, '')).not.toMatch(CONTROL);
    }
    const mail = await simpleParser(text);
    const keys = mail.headerLines.map((h) => h.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of REQUIRED) expect(keys).toContain(k);
    for (const k of keys) expect([...REQUIRED, ...OPTIONAL]).toContain(k);
    expect(mail.cc).toBeUndefined();
    expect(mail.bcc).toBeUndefined();
    const to = Array.isArray(mail.to) ? mail.to : [mail.to!];
    expect(to.flatMap((a) => a.value.map((v) => v.address))).toEqual([recipient]);
    expect(mail.from!.value.map((v) => v.address)).toEqual([expect.stringMatching(/^[a-z0-9.-]+@mail\.4me\.com$/)]);
    expect([kinds].flat()).toContain(mail.headers.get('x-m4me-kind'));
    const ids = [mail.messageId, mail.inReplyTo, ...[mail.references ?? []].flat()].filter((x): x is string => !!x);
    for (const id of ids) expect(id).toMatch(/^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$/);
    expect(mail.subject).not.toMatch(CONTROL);
  }
  return files.length;
}

/** Nothing with a control character is stored as a Message-ID, a sourceID or a ledger key. */
function expectCleanStore(p: Processed): void {
  const data = readStore(p.store);
  for (const e of data.inbound) {
    expect(e.key).not.toMatch(CONTROL);
    if (e.message_id !== null) expect(e.message_id).not.toMatch(CONTROL);
  }
  for (const r of data.requests) {
    if (r.sourceID !== null) expect(r.sourceID).not.toMatch(CONTROL);
    if (r.message_id !== null) expect(r.message_id).not.toMatch(CONTROL);
  }
  for (const n of data.notes) if (n.message_id !== null) expect(n.message_id).not.toMatch(CONTROL);
  for (const a of data.auto_replies ?? []) expect(JSON.stringify(a)).not.toMatch(/\\[rn]/);
  expect(p.line.message_id === null || !CONTROL.test(p.line.message_id)).toBe(true);
}

describe.each(Object.keys(BREAKS) as Break[])('%s', (br) => {
  describe("a stranger's mail: the 'Email Rejected' reply", () => {
    test.each(injections(STRANGER, br).map((i) => [i.name, i] as const))('%s', async (_name, i) => {
      const p = await processMessage(raw(i));
      expect(p.run.stderr).toBe('');
      expect(p.run.code).toBe(0);
      expect(p.line.outcome).toBe('rejected');
      const n = await expectSafeReplies(p, STRANGER, 'email_rejected');
      // Only an injected From address may leave the reply out: it has no address to go to.
      if (!i.name.startsWith('From address')) expect(n).toBe(1);
      expectCleanStore(p);
    });
  });

  describe("a known sender's new request: the acknowledgement", () => {
    test.each(injections(ELLEN, br).filter((i) => !i.to).map((i) => [i.name, i] as const))('%s', async (_name, i) => {
      const p = await processMessage(raw(i));
      expect(p.run.stderr).toBe('');
      expect(p.run.code).toBe(0);
      if (i.name.startsWith('From address')) {
        // Whatever mailparser makes of it: a reply, if any, only to the plain address.
        await expectSafeReplies(p, ELLEN, ['email_rejected', 'acknowledgement']);
      } else {
        expect(p.line.outcome).toBe('request_created');
        expect(await expectSafeReplies(p, ELLEN, 'acknowledgement')).toBe(1);
      }
      expectCleanStore(p);
    });
  });
});

describe('Message-IDs that are not id-left@id-right are not used', () => {
  test('an encoded CRLF Message-ID: no sourceID, the header-hash ledger key, the trace says why', async () => {
    const p = await processMessage(raw({ name: '', from: `Ellen <${ELLEN}>`, headers: [`Message-ID: ${enc(payload('\r\n'))}`] }));
    expect(p.line.outcome).toBe('request_created');
    expect(p.line.message_id).toBeNull();
    expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'mail.message_id', result: 'ignored', detail: expect.stringMatching(/control characters/) }));
    const data = readStore(p.store);
    const request = data.requests.find((r) => r.id === p.line.record!.id)!;
    expect(request.sourceID).toBeNull();
    expect(request.message_id).toBeNull();
    expect(data.inbound.at(-1)!.key).toMatch(/^sha256:[0-9a-f]{64} widget-it@mail\.4me\.com$/);
    const [ack] = outbox(p.store);
    expect(ack!.text).not.toMatch(/^(In-Reply-To|References):/m);
  });

  test('an invalid Message-ID gives the reply no In-Reply-To; the valid References are kept, the rest dropped', async () => {
    const p = await processMessage(raw({
      name: '', from: `Someone <${STRANGER}>`,
      headers: ['Message-ID: <no at sign>', 'In-Reply-To: <good-1@widget.example>', `References: <good-0@widget.example> ${enc('<x@y>\r\nBcc: v@t')} <good-1@widget.example>`],
    }));
    const [reply] = outbox(p.store);
    const mail = await simpleParser(reply!.text);
    expect(mail.inReplyTo).toBeUndefined();
    // mailparser reads the decoded words of References as IDs: "Bcc:" is none, "v@t" is (and harmless).
    expect(mail.references).toEqual(['<good-0@widget.example>', '<x@y>', '<v@t>', '<good-1@widget.example>']);
    expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'mail.message_id', result: 'ignored', detail: expect.stringMatching(/^Message-ID "no at sign" not used: it contains whitespace/) }));
    expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'mail.message_id', result: 'ignored', detail: expect.stringMatching(/^References "Bcc:" not used/) }));
    expect(reply!.text).not.toMatch(/Bcc/i);
  });

  test('a References header of 2,000 unusable entries: a few traced, the rest counted', async () => {
    const junk = Array.from({ length: 2000 }, (_, k) => `<junk${k}>`).join(' ');
    const p = await processMessage(raw({ name: '', from: `Someone <${STRANGER}>`, headers: ['Message-ID: <junk-refs@widget.example>', `References: ${junk}`] }));
    const traced = p.line.trace.filter((t) => t.rule === 'mail.message_id');
    expect(traced.length).toBeLessThanOrEqual(11);
    expect(traced.at(-1)!.detail).toBe('1990 more unusable IDs of In-Reply-To and References not used');
    const mail = await simpleParser(outbox(p.store)[0]!.text);
    expect(mail.references).toBe('<junk-refs@widget.example>');
  });

  test('a very long References header is folded, no line over 78, every ID kept', async () => {
    const refs = Array.from({ length: 40 }, (_, k) => `<ref-${k}-${'x'.repeat(30)}@widget.example>`);
    const p = await processMessage(raw({ name: '', from: `Someone <${STRANGER}>`, headers: ['Message-ID: <long-refs@widget.example>', `References: ${refs.join(' ')}`] }));
    const [reply] = outbox(p.store);
    const head = reply!.text.split('\r\n\r\n')[0]!;
    for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const mail = await simpleParser(reply!.text);
    expect(mail.references).toEqual([...refs, '<long-refs@widget.example>']);
  });

  test('a long non-ASCII subject is RFC 2047-encoded and folded', async () => {
    const subject = `Drucker kaputt — ${'Überlänge '.repeat(40)}`.trim();
    const p = await processMessage(raw({ name: '', from: `Someone <${STRANGER}>`, headers: ['Message-ID: <umlaut@widget.example>'], subject: enc(subject) }));
    const [reply] = outbox(p.store);
    const head = reply!.text.split('\r\n\r\n')[0]!;
    for (const line of head.split('\r\n')) {
      expect(line.length).toBeLessThanOrEqual(78);
      expect(line).toMatch(/^[\x20-\x7e]*$/);
    }
    const mail = await simpleParser(reply!.text);
    expect(mail.subject).toMatch(/^Email Rejected: Drucker kaputt — Überlänge/);
  });
});

/**
 * Bounded fuzzing (fast-check): messages of the shared corpus and the samples, mutated, and
 * random bytes, through parseEmail + decide in process (no exception escapes, exactly one
 * well-formed decision per message), then one CLI run over a mutated mbox (one JSON line per
 * message, a valid store). About 20 s in all. The corpus is read as bytes from
 * ../shared/corpus and never copied into the project; without it, only the samples are used.
 * FUZZ_SEED=<n> replays a run (the seed is in the test name and printed when a property fails).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide } from '../../src/engine/pipeline.js';
import type { Policy } from '../../src/engine/types.js';
import { parseEmail, UnreadableMessageError } from '../../src/mail/parse.js';
import { demoStore } from '../../src/store/demo.js';
import { StoreIndex } from '../../src/store/indexes.js';
import { CORPUS, corpusAvailable, DEMO_NOW, demoStoreFile, jsonLines, readStore, ROOT, runCli, tempDir } from '../helpers/cli.js';

// A fixed seed by default, so CI is repeatable; FUZZ_SEED=random explores new ground.
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261122;
/** FUZZ_MS=<ms> fuzzes longer (by hand; the suite keeps the default). */
const IN_PROCESS_MS = Number(process.env.FUZZ_MS ?? 12_000);
const MBOX_MESSAGES = 60;

/** all.mbox split as its README says: separator lines, one trailing empty line, mboxrd quoting. */
function corpusMessages(): Buffer[] {
  if (!corpusAvailable('fuzz (corpus seeds)')) return [];
  const text = readFileSync(join(CORPUS, 'all.mbox')).toString('latin1');
  return text.split(/^From MAILER-DAEMON Thu Jan {2}1 00:00:00 1970\n/m).slice(1)
    .map((m) => Buffer.from(m.replace(/\n$/, '').replace(/^>(>*From )/gm, '$1'), 'latin1'));
}

const samples = readdirSync(join(ROOT, 'samples')).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(ROOT, 'samples', f)));
const corpus = corpusMessages();
const seeds = [...samples, ...corpus];

/** Fragments that steer the parser and the engine into their corners. */
const TOKENS = [
  '\r\n\r\n', '\n\n', '\r', '\n', '--', '\0', '\u202e', ':', ';', '"', '=?utf-8?B?', '=?utf-8?Q?=00?=', '?=', '=\n', '=XX',
  'Content-Type: multipart/mixed; boundary="zz"\n', '\n--zz\n', '\n--zz--\n', 'Content-Type: multipart/related; boundary=zz\n',
  'Content-Type: message/rfc822\n\n', 'Content-Type: multipart/report; report-type=delivery-status; boundary=zz\n',
  'Content-Transfer-Encoding: base64\n', 'Content-Transfer-Encoding: quoted-printable\n', 'Content-Transfer-Encoding: x-uuencode\n',
  'begin 644 ../../x.bin\n', 'M86)C\n`\nend\n', 'Content-Disposition: attachment; filename="../../etc/passwd"\n',
  "Content-Disposition: inline; filename*=utf-8''%00%E2%80%AE..%2Fa.png\n", 'Content-ID: <a@b>\n', '<img src="cid:a@b">',
  'Content-Type: text/html; charset=iso-2022-jp\n', 'Content-Type: text/plain; charset=bogus-charset\n',
  '#category: incident\n', '#status: completed\n#member: nobody\n', '#ci: CMP00001\n#source: Nagios\n#sourceID: x\n', '#support_domain: acme-hosting\n',
  'Subject: Re: request #100001\n', 'Subject: =?utf-8?B?UmU6ICMxMDAwMDM=?=\n', 'In-Reply-To: <notify-100001-1@mail.4me.com>\n',
  'References: <m4me.notify.1.a@mail.4me.com>\n', 'Message-ID: <vpn-1@widget.example>\n', 'Message-ID:\n',
  'X-4me-From: beatrice.baldwin@widget.example\nX-4me-Auth: demo-webform-secret\n', 'Authentication-Results: mx.widget.example; dmarc=pass\n',
  'Auto-Submitted: auto-replied\n', 'Precedence: bulk\n', 'Return-Path: <>\n', 'Date: Mon, 99 Foo 2026 99:99:99 +9999\n',
  'From: Ellen Brown <ellen.brown@widget.example>\n', 'From: "a" <@>, ,\n', 'To: widget-it@mail.4me.com\n', 'To: servicedesk@mail.4me.com\n',
  'Delivered-To: widget-hr@mail.4me.com\n', 'Cc: undisclosed-recipients:;\n',
].map((s) => Buffer.from(s));

/** A uniform position in [0, 1] (fc.double is uniform over bit patterns, so mostly near 0: the first header line). */
const position = (min = 0) => fc.noBias(fc.integer({ min: Math.round(min * 1e6), max: 1e6 })).map((n) => n / 1e6);
const at = position();
const chunk = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b)) });

type Mutation =
  | { kind: 'flip'; at: number; byte: number } | { kind: 'insert'; at: number; bytes: Buffer } | { kind: 'delete'; at: number; len: number }
  | { kind: 'duplicate'; at: number; len: number } | { kind: 'truncate'; at: number } | { kind: 'prepend'; bytes: Buffer };

/** Header lines only: prepended, they keep the message readable as email. */
const HEADER_TOKENS = TOKENS.filter((t) => /^[A-Za-z-]+:.*\n$/s.test(t.toString('latin1')));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, bytes: chunk }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at, len: fc.nat({ max: 600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at, len: fc.nat({ max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position(0.3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('prepend' as const), bytes: fc.constantFrom(...HEADER_TOKENS) }) },
);

/** From Ellen to widget-it, so a corpus message gets past routing and the sender into notes and attachments. */
function fromEllen(b: Buffer): Buffer {
  const s = b.toString('latin1');
  const end = s.search(/\r?\n\r?\n/);
  const head = (end < 0 ? s : s.slice(0, end)).replace(/^(From|To|Cc|Delivered-To|X-Original-To):.*(\r?\n[ \t].*)*(\r?\n|$)/gmi, '');
  return Buffer.from(`From: Ellen Brown <ellen.brown@widget.example>\nTo: widget-it@mail.4me.com\n${head}${end < 0 ? '' : s.slice(end)}`, 'latin1');
}

function mutate(seed: Buffer, ms: Mutation[]): Buffer {
  let b = seed;
  for (const m of ms) {
    const i = m.kind === 'prepend' ? 0 : Math.floor(m.at * b.length);
    switch (m.kind) {
      case 'flip': if (b.length) { b = Buffer.from(b); b[Math.min(i, b.length - 1)] = m.byte; } break;
      case 'insert': b = Buffer.concat([b.subarray(0, i), m.bytes, b.subarray(i)]); break;
      case 'delete': b = Buffer.concat([b.subarray(0, i), b.subarray(i + m.len)]); break;
      case 'duplicate': b = Buffer.concat([b.subarray(0, i + m.len), b.subarray(i)]); break;
      case 'truncate': b = b.subarray(0, i); break;
      case 'prepend': b = Buffer.concat([m.bytes, b]); break;
    }
  }
  return b;
}

const messageArb: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.noBias(fc.nat({ max: seeds.length - 1 })), fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 6 }))
      .map(([i, ellen, ms]) => mutate(ellen ? fromEllen(seeds[i]!) : seeds[i]!, ms)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.tuple(fc.array(chunk, { maxLength: 12 }), fc.uint8Array({ maxLength: 1024 })).map(([cs, b]) => Buffer.concat([...cs, Buffer.from(b)])) },
);

const POLICY: Omit<Policy, 'envelopeRecipient'> = {
  mailDomains: ['mail.4me.com'], aliases: { 'helpdesk@widget.example': 'widget-it@mail.4me.com' }, trustedAuthservIds: ['mx.widget.example'],
  acknowledgements: true, maxAutoRepliesPerDay: 20, maxAttachments: 20, filesDir: 'store.json.files',
};
const OUTCOMES = ['request_created', 'note_added', 'unchanged', 'rejected', 'duplicate', 'failed'];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What a display name must never contain. */
const harmless = (name: string) => name.length > 0 && [...name].length <= 200 && !/[/\\]/.test(name)
  // eslint-disable-next-line no-control-regex
  && !/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(name) && !/^\./.test(name) && !/\p{Cs}/u.test(name);

describe('fuzz', () => {
  test(`parseEmail + decide never throw and give one well-formed decision per message (seed ${SEED})`, async () => {
    const index = new StoreIndex(demoStore());
    const clock = { now: Date.parse(DEMO_NOW) };
    const stats = { unreadable: 0, decisions: 0, created: 0, withFiles: 0 };
    const parseErrors: string[] = [];
    await fc.assert(fc.asyncProperty(
      messageArb,
      fc.constantFrom(undefined, '', 'mailer-daemon', 'ellen.brown@widget.example'),
      fc.constantFrom(null, 'widget-it@mail.4me.com', 'servicedesk@mail.4me.com', 'nobody@mail.4me.com', 'widget@mail.4me.com'),
      async (raw, sender, recipient) => {
        let email;
        try {
          email = await parseEmail(raw, sender);
        } catch (err) {
          // Not email at all: the CLI quarantines it. Any other parser error is handled the same
          // way by the CLI (failed.unreadable), but is recorded here to be looked at.
          if (err instanceof UnreadableMessageError) stats.unreadable++;
          else parseErrors.push(String((err as Error)?.message ?? err).slice(0, 200));
          return;
        }
        const d = decide(email, index, { ...POLICY, envelopeRecipient: recipient }, clock);
        stats.decisions++;
        if (d.outcome === 'request_created' || d.outcome === 'note_added') stats.created++;
        expect(OUTCOMES).toContain(d.outcome);
        expect(typeof d.rule).toBe('string');
        expect(d.trace.length).toBeGreaterThan(0);
        expect(() => JSON.stringify(d)).not.toThrow();
        if (d.outcome === 'rejected') expect(d.rejection).not.toBeNull();
        const stored = [...(d.note?.attachments ?? []), ...(d.note?.inline_images ?? [])];
        if (stored.length) stats.withFiles++;
        for (const a of stored) {
          expect(harmless(a.filename)).toBe(true);
          expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
          expect(a.path).toBe(`store.json.files/${a.sha256.slice(0, 2)}/${a.sha256}`);
          expect(d.files.some((f) => f.sha256 === a.sha256)).toBe(true);
        }
        for (const f of d.files) expect(sha256(f.content)).toBe(f.sha256);
        expect(d.note?.attachments.length ?? 0).toBeLessThanOrEqual(20);
      },
    ), { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: IN_PROCESS_MS, markInterruptAsFailure: false, endOnFailure: true });
    console.log(`fuzz seed ${SEED}: ${stats.decisions} decisions (${stats.created} records created or noted, ${stats.withFiles} with files), ${stats.unreadable} unreadable, ${parseErrors.length} other parser errors; ${corpus.length} corpus seeds`);
    // Most mutated messages must reach the engine, and some of them its notes and attachments.
    expect(stats.decisions).toBeGreaterThan(stats.unreadable);
    expect(stats.created).toBeGreaterThan(0);
    expect(parseErrors).toEqual([]);
  }, IN_PROCESS_MS + 48_000);

  test(`the CLI over a mutated mbox: one JSON line per message, exit 0, a valid store (seed ${SEED})`, async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const messages = fc.sample(messageArb, { numRuns: MBOX_MESSAGES, seed: SEED });
    // mboxrd: every line that starts with >*From gets one more '>'; every message ends with a newline.
    const mbox = join(dir, 'fuzz.mbox');
    writeFileSync(mbox, Buffer.concat(messages.flatMap((m) => {
      const body = Buffer.from(m.toString('latin1').replace(/^(>*From )/gm, '>$1'), 'latin1');
      return [Buffer.from('From fuzz@example.org Mon Mar  2 08:00:00 2026\n'), body, Buffer.from(body.at(-1) === 0x0a ? '\n' : '\n\n')];
    })));
    const r = await runCli(['process', '--json', '--quiet', '--store', store, '--now', DEMO_NOW, '--recipient', 'widget-it@mail.4me.com', mbox], { cwd: dir });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.input)).toEqual(messages.map((_, i) => `mbox:${mbox}#${i + 1}`));
    for (const l of lines) expect(OUTCOMES).toContain(l.outcome);
    const data = readStore(store);
    expect(data.inbound.length).toBe(lines.filter((l) => !['failed', 'duplicate'].includes(l.outcome)).length);
    const check = await runCli(['check-config', '--store', store], { cwd: dir });
    expect(check.stdout).toMatch(/✓ store /);
    expect(check.code).toBe(0);
    // Every attachment a note names is on disk under <store>.files, named by its content.
    for (const n of data.notes) {
      for (const a of [...n.attachments, ...n.inline_images]) {
        expect(existsSync(join(dir, a.path))).toBe(true);
        expect(sha256(readFileSync(join(dir, a.path)))).toBe(a.sha256);
      }
    }
  }, 60_000);
});

/**
 * The inbound ledger cannot be squatted: a stranger's mail that takes the Message-ID of an
 * alert still to come is rejected, and the real alert with that Message-ID is then processed
 * (its content differs), not a `duplicate`. A true re-delivery (the same bytes, or the same
 * bytes after more hops added their Received and Delivered-To lines) stays a duplicate, and
 * a ledger entry written before entries had a content hash behaves as it always did.
 */
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli } from '../helpers/cli.js';

const deliver = async (store: string, stdin: string, args: string[] = []) => {
  const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...args], { stdin });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return jsonLines(run.stdout)[0]!;
};

const ID = 'alert-4711@monitoring.widget.example';
const ALERT = eml({ from: 'Nagios <nagios@monitoring.widget.example>', subject: 'CPU high on srv-1', id: ID }, '#impact: high\n\nCPU at 99%.\n');
const SQUAT = eml({ from: 'Mallory <mallory@evil.example>', subject: 'hello', id: ID }, 'I was here first.\n');
const hop = (m: string, n: number) =>
  `Received: from relay${n}.example by mx.widget.example; Mon, 2 Mar 2026 08:3${n}:00 +0000\nDelivered-To: widget-it@mail.4me.com\nReturn-Path: <nagios@monitoring.widget.example>\n${m}`;

describe('ledger squatting', () => {
  test("a stranger's rejected mail does not make the real alert with its Message-ID a duplicate", async () => {
    const store = demoStoreFile();
    const squat = await deliver(store, SQUAT);
    expect(squat.outcome).toBe('rejected');
    const real = await deliver(store, ALERT);
    expect(real.outcome).toBe('request_created');
    expect(real.request).toMatchObject({ impact: 'high', sourceID: ID });
    expect(real.trace).toContainEqual(expect.objectContaining({ rule: 'duplicate.message', result: 'not_matched', detail: expect.stringMatching(/Message-ID .* reused/) }));
    // Each has its own ledger entry, with a short content hash.
    const ledger = readStore(store).inbound.filter((e) => e.message_id === ID);
    expect(ledger).toHaveLength(2);
    expect(new Set(ledger.map((e) => e.key)).size).toBe(2);
    for (const e of ledger) expect((e as unknown as { content_hash: string }).content_hash).toMatch(/^[0-9a-f]{16}$/);
    // The real alert delivered again (after one more hop) is its duplicate.
    const again = await deliver(store, hop(ALERT, 1));
    expect(again.outcome).toBe('duplicate');
    expect(again.record).toEqual(real.record);
    // And the stranger's again is the stranger's duplicate.
    expect((await deliver(store, SQUAT)).outcome).toBe('duplicate');
    expect(readStore(store).inbound.filter((e) => e.message_id === ID)).toHaveLength(2);
  });

  test('the same bytes after more hops (Received, Delivered-To, Return-Path, CRLF, spam and mbox status fields) are a duplicate', async () => {
    const store = demoStoreFile();
    const first = await deliver(store, hop(ALERT, 1));
    expect(first.outcome).toBe('request_created');
    for (const again of [ALERT, hop(hop(ALERT, 2), 3), hop(ALERT, 4).replace(/\n/g, '\r\n'), `X-Original-To: widget-it@mail.4me.com\n${ALERT}`,
      // An mbox a mail program kept (its Status fields) and a spam filter scored, replayed later.
      ALERT.replace('\n\n', '\nX-Spam-Score: 1.2\nX-Spam-Status: No\nStatus: RO\nX-Status: A\n\n')]) {
      const r = await deliver(store, again);
      expect(r.outcome).toBe('duplicate');
      expect(r.record).toEqual(first.record);
    }
  });

  test('the same Message-ID in a batch: the different content is processed, the copy is a duplicate', async () => {
    const store = demoStoreFile();
    const mbox = `${store}.mbox`;
    const entry = (m: string) => `From x@example.com Mon Mar  2 08:00:00 2026\n${m}\n`;
    writeFileSync(mbox, [SQUAT, ALERT, hop(ALERT, 1)].map(entry).join(''));
    const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, mbox]);
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((r) => r.outcome)).toEqual(['rejected', 'request_created', 'duplicate']);
  });

  test('a ledger entry without a content hash (an older store) still makes the Message-ID a duplicate', async () => {
    const store = demoStoreFile(undefined, (s) => {
      s.inbound.push({ key: `${ID} widget-it@mail.4me.com`, message_id: ID, recipient: 'widget-it@mail.4me.com', received_at: '2026-03-01T08:00:00+00:00', outcome: 'rejected', rule: 'reject.unknown_sender', record: null });
    });
    const r = await deliver(store, ALERT);
    expect(r.outcome).toBe('duplicate');
  });
});

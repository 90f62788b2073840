/**
 * `m4me log` and `m4me compact`: what happened to a message, with the trace it was decided by,
 * from the ledger and the delivery log beside the store; a delivery whose store commit failed
 * never shows; compact bounds the ledger, the automatic replies and the log.
 */
import { expect, test } from '@jest/globals';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, readStore, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, testJsonOnly, testStore } from '../helpers/stores.js';
import { isPgUrl } from '../../src/store/pg/url.js';

const MBOX = join(ROOT, 'samples', 'demo.mbox');

describeStores('m4me log', () => {
  test('filters by sender, Message-ID and outcome; --explain shows the stored trace, the deciding rule marked', async () => {
    const store = await testStore(tempDir());
    expect((await runCli(['process', '--quiet', '--store', store, '--now', DEMO_NOW, MBOX])).code).toBe(0);
    const all = await runCli(['log', '--json', '--store', store]);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; from: string; subject: string; message_id: string });
    const ledger = readStore(store).inbound.filter((e) => e.received_at === '2026-03-02T09:00:00.000+00:00' || e.received_at.startsWith('2026-03-02T09:00:00'));
    expect(rows.filter((r) => r.from !== null)).toHaveLength(ledger.length);
    const ellen = await runCli(['log', '--store', store, '--from', 'Ellen.Brown@widget.example']);
    expect(ellen.stdout.trim().split('\n').every((l) => l.includes('ellen.brown@widget.example → '))).toBe(true);
    expect(ellen.stderr).toMatch(/^\d+ messages\n$/);
    const one = await runCli(['log', '--store', store, '--message-id', '<demo-01@widget.example>', '--explain']);
    expect(one.stdout).toMatch(/^2026-03-02T09:00:00.* ellen\.brown@widget\.example → widget-it@mail\.4me\.com {2}request_created request #100042 \[create\.new_request\] {2}<demo-01@widget\.example> {2}"Printer on floor 3 is broken"\n/);
    expect(one.stdout).toMatch(/\n {2}✓ create\.new_request ◀/);
    expect(one.stdout).toMatch(/\n {2}– match\.subject_id +no number of 6 or more digits/);
    const rejected = await runCli(['log', '--json', '--explain', '--outcome', 'rejected', '--store', store]);
    const r = rejected.stdout.trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; trace: { rule: string }[] });
    expect(r.length).toBe(readStore(store).inbound.filter((e) => e.outcome === 'rejected').length);
    expect(r.every((x) => x.outcome === 'rejected' && x.trace.length > 3)).toBe(true);
    const bad = await runCli(['log', '--outcome', 'lost', '--store', store]);
    expect(bad.code).toBe(64);
  });

  testJsonOnly('a failed write of the store file (M4ME_FAULT) and the mode of <store>.log; a failed PostgreSQL transaction: test/pg/failures.test.ts')('a delivery whose store write failed (75) leaves no entry to show; its retry shows once; the log has the store\'s mode', async () => {
    const store = demoStoreFile(tempDir());
    chmodSync(store, 0o640);
    const mail = eml({ id: 'flaky@widget.example', subject: 'Flaky disk' });
    const failed = await runCli(['process', '--store', store, '--now', DEMO_NOW], { stdin: mail, env: { M4ME_FAULT: 'write-store' } });
    expect(failed.code).toBe(75);
    expect((await runCli(['log', '--store', store, '--message-id', 'flaky@widget.example'])).stdout).toBe('');
    expect((await runCli(['process', '--store', store, '--now', DEMO_NOW], { stdin: mail })).code).toBe(0);
    const shown = await runCli(['log', '--store', store, '--message-id', 'flaky@widget.example']);
    expect(shown.stdout.trim().split('\n')).toHaveLength(1);
    expect(statSync(`${store}.log`).mode & 0o777).toBe(0o640);
  });
});

describeStores('m4me log of a batch', () => {
  test('a batch whose log lines pass 1 MB, one of them 400 KB long: every line whole, in order', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const long = `Long ${'word '.repeat(80_000)}`;
    let mbox = '';
    for (let i = 0; i < 700; i++) {
      mbox += `From a@b Thu Mar  5 00:00:00 2026\nFrom: ellen.brown@widget.example\nTo: widget-it@mail.4me.com\nSubject: ${i === 350 ? long : `msg ${i}`}\nMessage-ID: <lt-${i}@widget.example>\nDate: Thu, 05 Mar 2026 00:00:00 +0000\n\nHello ${i}\n\n`;
    }
    const input = join(dir, 'in.mbox');
    writeFileSync(input, mbox);
    expect((await runCli(['process', '--quiet', '--store', store, '--now', DEMO_NOW, input])).code).toBe(0);
    const all = await runCli(['log', '--json', '--store', store]);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { message_id: string; subject: string });
    expect(rows.map((r) => r.message_id)).toEqual(Array.from({ length: 700 }, (_, i) => `lt-${i}@widget.example`));
    expect(rows[350]!.subject).toBe(long.trim());
    // The JSON store's log file itself: the lines in the order they were committed.
    if (!isPgUrl(store)) {
      const lines = readFileSync(`${store}.log`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message_id: string });
      expect(lines.map((l) => l.message_id)).toEqual(rows.map((r) => r.message_id));
    }
  });
});

describeStores('m4me compact', () => {
  test('--before removes old ledger entries, automatic replies and log lines; the rest is as it was', async () => {
    const store = await testStore(tempDir());
    await runCli(['process', '--quiet', '--store', store, '--now', '2026-01-10T09:00:00+00:00', join(ROOT, 'samples', '01-end-user-request.eml'), join(ROOT, 'samples', '12-unknown-sender.eml')]);
    await runCli(['process', '--quiet', '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', '02-team-address.eml')]);
    const before = readStore(store);
    const dry = await runCli(['compact', '--before', '2026-02-01', '--dry-run', '--store', store]);
    expect(dry.stdout).toMatch(/^would remove what is older than 2026-02-01T00:00:00\.000Z: 2 ledger entries, 2 automatic replies, 2 delivery log lines \(dry run: nothing was changed\)\n$/);
    expect(readStore(store)).toEqual(before);
    const r = await runCli(['compact', '--before', '2026-02-01', '--store', store]);
    expect(r.stdout).toMatch(/^removed .*: 2 ledger entries, 2 automatic replies, 2 delivery log lines\n$/);
    const after = readStore(store);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    expect(after.inbound).toEqual(before.inbound.filter((e) => e.received_at >= '2026-02'));
    expect(after.auto_replies).toEqual(before.auto_replies.filter((e) => e.sent_at >= '2026-02'));
    expect({ ...after, inbound: [], auto_replies: [] }).toEqual({ ...before, inbound: [], auto_replies: [] });
    // The delivery log (<store>.log, or the database's) keeps the one line of March.
    const log = await runCli(['log', '--json', '--store', store]);
    expect(log.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { message_id: string }).message_id)).toEqual([before.inbound.at(-1)!.message_id]);
    // The store still takes mail, and the compacted message would be processed again.
    const again = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', '02-team-address.eml')]);
    expect(JSON.parse(again.stdout).outcome).toBe('duplicate');
  });
});

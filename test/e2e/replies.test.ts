/**
 * `process --replies queue|none`: a replay of old mail (--clock message) writes no automatic
 * replies unless asked to, and the summary says how many replies a run queued.
 */
import { expect, test } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLines, readStore, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, outboxOf, testStore } from '../helpers/stores.js';

const MBOX = join(ROOT, 'samples', 'demo.mbox');
const outboxFiles = (store: string) => (existsSync(outboxOf(store)) ? readdirSync(outboxOf(store)).filter((f) => f.endsWith('.eml')) : []);

describeStores('automatic replies of a run', () => {
  test('a replay (--clock message) queues none by default, and says so; the trace says why', async () => {
    const store = await testStore(tempDir());
    const before = readStore(store);
    const r = await runCli(['process', '--clock', 'message', '--store', store, MBOX]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\n {2}automatic replies: none \(--replies none\)\n/);
    expect(outboxFiles(store)).toEqual([]);
    const after = readStore(store);
    expect(after.auto_replies).toEqual(before.auto_replies);
    expect(after.notifications).toEqual(before.notifications); // no acknowledgement, so none to reply to
    const json = await runCli(['process', '--json', '--dry-run', '--clock', 'message', '--store', await testStore(tempDir()), MBOX]);
    expect(jsonLines(json.stdout).some((l) => l.trace.some((t) => t.rule === 'reply.loop_protection' && t.detail.includes('--replies none')))).toBe(true);
  });

  test('--replies queue with a replay, and the default of a live run: replies queued, counted in the summary', async () => {
    for (const args of [['--clock', 'message', '--replies', 'queue'], ['--now', '2026-03-02T09:00:00+00:00']]) {
      const store = await testStore(tempDir());
      const r = await runCli(['process', ...args, '--store', store, MBOX]);
      expect(r.code).toBe(0);
      const files = outboxFiles(store);
      expect(files.length).toBeGreaterThan(5);
      expect(r.stderr).toContain(`\n  automatic replies: ${files.length} queued (m4me outbox lists them; outbox --send sends them)\n`);
    }
  });

  test('--replies none on a live delivery: the request is created, no reply written', async () => {
    const store = await testStore(tempDir());
    const r = await runCli(['process', '--json', '--replies', 'none', '--store', store, join(ROOT, 'samples', '01-end-user-request.eml'), join(ROOT, 'samples', '12-unknown-sender.eml')]);
    expect(jsonLines(r.stdout).map((l) => l.outcome)).toEqual(['request_created', 'rejected']);
    expect(outboxFiles(store)).toEqual([]);
  });
});

import { expect } from '@jest/globals';
import { join } from 'node:path';
import { CORPUS, CORPUS_PRESENT, testIf, DEMO_NOW, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, testStore } from '../helpers/stores.js';

describeStores('the shared corpus (722 real-world messages)', () => {
  testIf(CORPUS_PRESENT, 'the corpus replay')('gives exactly one result per message, no crash, no stack trace, and a valid store', async () => {
    const dir = tempDir();
    // Unknown senders become people, so every readable message goes through the whole engine.
    const store = await testStore(dir, (s) => { s.accounts.find((a) => a.id === 'widget-it')!.email_policy.auto_create_people = true; });
    const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, '--recipient', 'widget-it@mail.4me.com', join(CORPUS, 'all.mbox')]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    const results = jsonLines(run.stdout);
    expect(results).toHaveLength(722);
    expect(results.map((r) => r.input)).toEqual(Array.from({ length: 722 }, (_, i) => `mbox:${join(CORPUS, 'all.mbox')}#${i + 1}`));
    for (const r of results) {
      expect(['request_created', 'note_added', 'unchanged', 'rejected', 'duplicate', 'failed']).toContain(r.outcome);
      expect(r.trace.length).toBeGreaterThan(0);
    }
    const data = readStore(store);
    // Every message is in the ledger, except those that could not be read at all (quarantined).
    const count = (o: string) => results.filter((r) => r.outcome === o).length;
    expect(data.inbound.length).toBe(722 - count('failed') - count('duplicate'));
    // Most of it is ordinary mail: it becomes requests with notes, and what is created is stored.
    expect(count('request_created')).toBeGreaterThan(300);
    expect(count('failed')).toBeLessThan(30);
    const ids = new Set(data.requests.map((q) => q.id));
    for (const r of results.filter((x) => x.outcome === 'request_created')) expect(ids.has(r.record!.id)).toBe(true);
  }, 180_000);
});

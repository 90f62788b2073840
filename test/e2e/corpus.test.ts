import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { CORPUS, corpusAvailable, demoStoreFile, DEMO_NOW, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';

describe('the shared corpus (722 real-world messages)', () => {
  it('gives exactly one result per message, no crash, no stack trace, and a valid store', async () => {
    if (!corpusAvailable('corpus replay')) return;
    const dir = tempDir();
    const store = demoStoreFile(dir);
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
    const failed = results.filter((r) => r.outcome === 'failed').length;
    expect(data.inbound.length + failed).toBeGreaterThanOrEqual(722 - results.filter((r) => r.outcome === 'duplicate').length);
  }, 180_000);
});

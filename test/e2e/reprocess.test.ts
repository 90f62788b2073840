/**
 * `process --reprocess`: a message rejected because its sender was not yet in the store is
 * a duplicate forever without it; with it, once the person is imported, it becomes a request.
 */
import { expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, importInto, testStore } from '../helpers/stores.js';

describeStores('process --reprocess', () => {
  test('rejected before the sender was imported; a duplicate again; with --reprocess a request, once', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const file = join(dir, 'late.eml');
    writeFileSync(file, eml({ from: 'Nina New <nina.new@widget.example>', id: 'late@widget.example', subject: 'My first day: no laptop' }));
    const run = async (...extra: string[]) => jsonLines((await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...extra, file])).stdout)[0]!;
    expect((await run()).outcome).toBe('rejected');
    const people = join(dir, 'people.csv');
    writeFileSync(people, 'id,account,name,primary_email\n1099,widget-it,Nina New,nina.new@widget.example\n');
    expect((await importInto(store, 'people', people)).code).toBe(0);
    expect((await run()).outcome).toBe('duplicate');
    const again = await run('--reprocess');
    expect([again.outcome, again.request?.requested_by]).toEqual(['request_created', 1099]);
    expect(again.trace.find((t) => t.rule === 'duplicate.message')).toMatchObject({ result: 'skipped', detail: expect.stringContaining('processed again (--reprocess)') });
    // Done now: a later --reprocess finds the request, not the rejection.
    const third = await run('--reprocess');
    expect([third.outcome, third.record]).toEqual(['duplicate', again.record]);
    expect(readStore(store).requests.filter((r) => r.message_id === 'late@widget.example')).toHaveLength(1);
  });
});

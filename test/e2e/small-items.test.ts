/** The small operator items of the daily-work review, each through the real CLI. */
import { expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, eml, jsonLines, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, testJsonOnly, testStore } from '../helpers/stores.js';

describeStores('small operator items', () => {
  test('a duplicate\'s JSON names its inbound address', async () => {
    const store = await testStore();
    const mail = eml({ id: 'dup-recipient@t' });
    await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: mail });
    const again = jsonLines((await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: mail })).stdout)[0]!;
    expect([again.outcome, again.recipient]).toEqual(['duplicate', 'widget-it@mail.4me.com']);
  });

  test('list --status with a misspelt request status: 64 with the nearest status, not an empty list', async () => {
    const store = await testStore();
    const r = await runCli(['list', 'request', '--status', 'asigned', '--store', store]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^5\.5\.4 m4me: --status: no request status "asigned" \(did you mean assigned\?\); one of: declined, /);
    expect((await runCli(['list', 'request', '--status', 'Assigned', '--store', store])).stdout).toContain('100003');
  });

  test('show of a record that is not there: one 5.1.1 line, exit 1 (as the manual says)', async () => {
    const r = await runCli(['show', 'request', '999999', '--store', await testStore()]);
    expect([r.code, r.stderr]).toEqual([1, '5.1.1 m4me: no request with ID 999999\n']);
  });

  testJsonOnly('the syntax of the store file')('a store that is not valid JSON: the line and column where it breaks, for delivery and check-config', async () => {
    const dir = tempDir();
    const store = join(dir, 'store.json');
    writeFileSync(store, '{"accounts": [\n  {"id": "x",\n   "name": oops}\n]}\n');
    const d = await runCli(['process', '--store', store], { stdin: eml({}) });
    expect(d.code).toBe(75);
    expect(d.stderr).toMatch(/^4\.3\.5 m4me: store .* is not valid JSON at line 3, column 12 \(InvalidSymbol\)/);
    expect(d.stderr.trim().split('\n')).toHaveLength(1);
    const c = await runCli(['check-config', '--store', store]);
    expect(c.stdout).toMatch(/not valid JSON at line 3, column 12 \(InvalidSymbol\) .*restore it from a backup/);
  });

  test('outbox lists subjects decoded, not as RFC 2047 encoded words', async () => {
    const store = await testStore();
    await runCli(['process', '--store', store, '--now', DEMO_NOW], {
      stdin: eml({ from: 'M <m@stranger.example>', subject: '=?UTF-8?B?w4RyZ2VyIG1pdCBkZW0gRHJ1Y2tlcg==?=', id: 'enc@s.example' }),
    });
    const r = await runCli(['outbox', '--store', store]);
    expect(r.stdout).toContain('Email Rejected: Ärger mit dem Drucker');
    expect(r.stdout).not.toContain('=?UTF-8?');
  });
});

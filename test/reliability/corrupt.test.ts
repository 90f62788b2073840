/**
 * Reliability 4: a store file that is corrupt or not an m4me store at all. Every delivery
 * defers (75) with one 4.3.x line naming the problem, the file is never rewritten (bytes
 * identical), nothing is written beside it, and `m4me check-config --store` exits 78 naming
 * the same problem.
 */
import { describe, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoStore } from '../../src/store/demo.js';
import { DEMO_NOW, type Run, runCli, tempDir, testIf } from '../helpers/cli.js';
import { canRunAs, expectOneStatusLine, filesUnder, mailWithAttachment, runCliAs } from './helpers.js';

const demo = JSON.stringify(demoStore(), null, 2);
const message = mailWithAttachment('corrupt@t', Buffer.from('log file'));
const processArgs = (store: string) => ['process', '--json', '--store', store, '--now', DEMO_NOW];

function expectCheckConfigNames(run: Run, store: string, problem: RegExp) {
  expect(run.code).toBe(78);
  const line = run.stdout.split('\n').find((l) => l.startsWith(`✗ store ${store}:`));
  expect(line).toMatch(problem);
  expectOneStatusLine(run.stderr, /^4\.3\.5 m4me: \d+ problems? found/);
}

const cases: [string, string | Buffer, RegExp, RegExp][] = [
  // [what, file content, in the process error, in the check-config line]
  ['truncated JSON', demo.slice(0, Math.floor(demo.length / 2)), /is not valid JSON/, /not valid JSON/],
  ['an empty file', '', /is not valid JSON/, /not valid JSON/],
  ['binary bytes', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), /is not valid JSON/, /not valid JSON/],
  ['a JSON list', '[]', /is not an m4me store: the file is not a JSON object/, /not a JSON object/],
  ['another program\'s JSON', '{"name":"some-package","version":"1.0.0"}', /"accounts" is missing or not a list/, /"accounts" is missing/],
  ['a collection that is not a list', '{"accounts":[],"requests":{}}', /"requests" is not a list/, /"requests" is not a list/],
  ['an entry that is not an object', JSON.stringify({ ...demoStore(), requests: [null] }), /"requests"\[0\] is not an object/, /"requests"\[0\] is not an object/],
  ['an account without its email policy', JSON.stringify({ ...demoStore(), accounts: [{ id: 'widget-it' }] }), /"accounts"\[0\] has no "id" or no "email_policy"/, /"accounts"\[0\]/],
];

describe('corrupt or foreign store', () => {
  test.each(cases)('%s: 75, one line, file untouched; check-config 78', async (_what, content, problem, checkProblem) => {
    const dir = tempDir();
    const store = join(dir, 'store.json');
    writeFileSync(store, content);
    const run = await runCli(processArgs(store), { stdin: message });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, new RegExp(`^4\\.3\\.5 m4me: store ${store} .*${problem.source}.*it was left untouched`));
    expect(run.stdout).toBe('');
    expect(readFileSync(store).equals(Buffer.from(content))).toBe(true);
    expect(filesUnder(dir)).toEqual(['store.json']); // no lock left, no outbox, attachment or quarantine
    expectCheckConfigNames(await runCli(['check-config', '--store', store]), store, checkProblem);
  });

  test('a directory where the store should be', async () => {
    const dir = tempDir();
    const store = join(dir, 'store.json');
    mkdirSync(store);
    writeFileSync(join(store, 'keep.txt'), 'mine');
    const run = await runCli(processArgs(store), { stdin: message });
    expect(run.code).toBe(75);
    expectOneStatusLine(run.stderr, /^4\.3\.5 m4me: store .* is not a file/);
    expect(filesUnder(dir)).toEqual(['store.json/keep.txt']);
    expect(readFileSync(join(store, 'keep.txt'), 'utf8')).toBe('mine');
    expectCheckConfigNames(await runCli(['check-config', '--store', store]), store, /is a directory/);
  });

  // root reads anything: then the case needs m4me run as nobody.
  const unreadable = process.getuid?.() !== 0 || canRunAs(65534, 65534) || 'running as root and cannot run m4me as nobody';
  testIf(unreadable, 'the no-permission case')('a store m4me may not read', async () => {
    const dir = tempDir();
    const store = join(dir, 'store.json');
    writeFileSync(store, JSON.stringify(demoStore()));
    const bytes = readFileSync(store);
    chmodSync(store, 0o600);
    let run: (args: string[], stdin?: string) => Run | Promise<Run>;
    if (process.getuid?.() !== 0) {
      chmodSync(store, 0o000);
      run = (args, stdin) => runCli(args, { stdin: stdin ?? '' });
    } else if (canRunAs(65534, 65534)) {
      // root reads anything: run m4me as nobody, in a folder nobody may write to.
      chmodSync(dir, 0o777);
      run = (args, stdin) => runCliAs(65534, 65534, args, stdin);
    } else {
      return;
    }
    try {
      const r = await run(processArgs(store), message);
      expect(r.code).toBe(75);
      expectOneStatusLine(r.stderr, /^4\.3\.0 m4me: cannot read store .*permission denied/);
      expect(filesUnder(dir)).toEqual(['store.json']);
      expectCheckConfigNames(await run(['check-config', '--store', store]), store, /permission denied/);
    } finally {
      chmodSync(store, 0o600);
    }
    expect(readFileSync(store).equals(bytes)).toBe(true);
  });
});

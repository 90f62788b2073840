/**
 * `--clock message` takes each message's Date: as its clock, but a sender writes that header:
 * a Date more than a day ahead of the system clock (which would hold event matching and the
 * reply limits in the future) or before 1990 is refused, and the current time is used with
 * a warning.
 */
import { describe, expect, test } from '@jest/globals';
import { demoStoreFile, eml, jsonLines, runCli } from '../helpers/cli.js';

const rfc5322 = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');

async function replay(date: string) {
  const store = demoStoreFile();
  const before = Date.now();
  const run = await runCli(['process', '--json', '--store', store, '--clock', 'message'], { stdin: eml({ date }) });
  const after = Date.now();
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const [r] = jsonLines(run.stdout);
  expect(r!.outcome).toBe('request_created');
  return { r: r!, at: Date.parse((r!.request as { created_at: string }).created_at), before, after, store };
}

describe('--clock message', () => {
  test.each([
    ['years ahead', 'Thu, 01 Jan 2099 00:00:00 +0000'],
    ['a day and an hour ahead', rfc5322(Date.now() + 25 * 3600_000)],
    ['before 1990', 'Sun, 31 Dec 1989 23:00:00 +0000'],
    ['the epoch', 'Thu, 01 Jan 1970 00:00:00 +0000'],
  ])('a Date %s is refused: the current time, with a warning', async (_name, date) => {
    const { r, at, before, after, store } = await replay(date);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(after + 1000);
    const warning = /^--clock message: the Date .* is (more than a day ahead of the system clock|before 1990), the current time was used$/;
    expect(r.warnings).toContainEqual(expect.stringMatching(warning));
    // The delivery log keeps it too: m4me log --explain shows what the run said.
    const log = await runCli(['log', '--json', '--explain', '--store', store]);
    const [logged] = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { warnings: string[] });
    expect(logged!.warnings).toContainEqual(expect.stringMatching(warning));
  });

  test.each([
    ['in 1990', 'Mon, 01 Jan 1990 00:00:00 +0000', Date.parse('1990-01-01T00:00:00Z')],
    ['from an archive', 'Mon, 02 Mar 2026 08:30:00 +0000', Date.parse('2026-03-02T08:30:00Z')],
  ])('a Date %s is the clock', async (_name, date, ms) => {
    const { r, at } = await replay(date);
    expect(at).toBe(ms);
    expect(r.warnings).toEqual([]);
  });

  test('a Date a few hours ahead (a sender clock off, a time zone written wrong) is the clock', async () => {
    const ahead = Math.floor((Date.now() + 12 * 3600_000) / 1000) * 1000;
    const { r, at } = await replay(rfc5322(ahead));
    expect(at).toBe(ahead);
    expect(r.warnings).toEqual([]);
  });
});

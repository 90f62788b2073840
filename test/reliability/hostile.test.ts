/**
 * Reliability 5: input that is not email at all. It is saved whole (byte for byte) in the
 * quarantine folder; a single delivery bounces (65, one 5.6.0 line), a batch goes on, exits
 * 0 and reports how many failed.
 */
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { expectOneStatusLine } from './helpers.js';

/** Deterministic binary garbage: no header block, NUL and 8-bit bytes, no newline. */
function garbage(size: number, seed = 7): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 16) & 0xff;
    if (b[i] === 0x0a) b[i] = 0x0b;
  }
  b[0] = 0;
  return b;
}

const quarantined = (store: string) => {
  const dir = `${store}.quarantine`;
  return readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => readFileSync(join(dir, f)));
};

async function single(stdin: Buffer, reason: RegExp) {
  const dir = tempDir();
  const store = demoStoreFile(dir);
  const bytes = readFileSync(store);
  const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin });
  expect(run.code).toBe(65);
  expectOneStatusLine(run.stderr, reason);
  const [result] = jsonLines(run.stdout);
  expect(result!.outcome).toBe('failed');
  expect(result!.error!.status).toBe('5.6.0');
  expect(readFileSync(result!.error!.quarantined!).equals(stdin)).toBe(true);
  expect(quarantined(store)).toHaveLength(1);
  expect(readFileSync(store).equals(bytes)).toBe(true); // nothing in the store, not even the ledger
}

describe('hostile input', () => {
  test('an empty message on stdin: quarantined (empty), 65', async () => {
    await single(Buffer.alloc(0), /^5\.6\.0 m4me: message could not be read as email: empty message/);
  });

  test('binary garbage without headers on stdin: quarantined byte for byte, 65', async () => {
    await single(garbage(64 * 1024), /^5\.6\.0 m4me: message could not be read as email: no header fields/);
  });

  test('in a batch: the run goes on, exit 0, failures quarantined and counted', async () => {
    const dir = tempDir();
    const junk = garbage(10_000, 3);
    // An mbox entry: the From_ line, the message and its last newline, the blank separator line.
    const entry = (m: string | Buffer) => Buffer.concat([Buffer.from('From someone@example.com Mon Mar  2 08:00:00 2026\n'), Buffer.from(m), Buffer.from(m.length ? '\n\n' : '\n')]);
    const mbox = join(dir, 'mixed.mbox');
    writeFileSync(mbox, Buffer.concat([entry(eml({ id: 'good1@t', subject: 'Good 1' })), entry(junk), entry(''), entry(eml({ id: 'good2@t', subject: 'Good 2' }))]));
    writeFileSync(join(dir, 'junk.eml'), junk);

    for (const json of [true, false]) {
      const store = demoStoreFile(tempDir());
      const before = readStore(store);
      const run = await runCli(['process', ...(json ? ['--json'] : []), '--store', store, '--now', DEMO_NOW, mbox, join(dir, 'junk.eml')]);
      // The human batch summary goes to stderr; nothing else does.
      expect(run.stderr).toMatch(json ? /^$/ : /^\n\d+ messages in [\d.]+ s/);
      expect(run.stderr).not.toMatch(/\n\s+at |Error/);
      expect(run.code).toBe(0);
      if (json) {
        const results = jsonLines(run.stdout);
        expect(results.map((r) => r.outcome)).toEqual(['request_created', 'failed', 'failed', 'request_created', 'failed']);
        expect(results.filter((r) => r.outcome === 'failed').map((r) => r.error!.message)).toEqual([
          'message could not be read as email: no header fields', 'message could not be read as email: empty message',
          'message could not be read as email: no header fields']);
      } else {
        expect(run.stderr).toMatch(/^5 messages in /m);
        expect(run.stderr).toMatch(/^ {2}failed +3$/m);
        expect(run.stderr).toMatch(/^ {2}request_created +2$/m);
      }
      // Saved whole: the mbox message as split (its trailing newline included), the file as is.
      const saved = quarantined(store).map((b) => b.toString('latin1')).sort();
      expect(saved).toEqual(['', Buffer.concat([junk, Buffer.from('\n')]).toString('latin1'), junk.toString('latin1')].sort());
      const after = readStore(store);
      expect(after.requests.length - before.requests.length).toBe(2);
      expect(after.inbound.slice(before.inbound.length).map((e) => e.message_id)).toEqual(['good1@t', 'good2@t']);
    }
  });
});

/**
 * Reliability 6: a message delivered again (an MTA retry, a replayed archive) is a
 * `duplicate` and changes nothing — not the store, not the outbox, not the attachment files.
 * The key is the Message-ID, else a hash of the header block, and it counts per inbound
 * address.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli } from '../helpers/cli.js';
import { mailWithAttachment, snapshot } from './helpers.js';

const deliver = (store: string, stdin: string, args: string[] = []) =>
  runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...args], { stdin });

/** Delivers `message` once (expecting `first`), then again: duplicate, every file unchanged. */
async function twice(store: string, message: string, args: string[] = []) {
  const one = await deliver(store, message, args);
  expect(one.code).toBe(0);
  const first = jsonLines(one.stdout);
  const files = snapshot(dirname(store));
  const two = await deliver(store, message, args);
  expect(two.stderr).toBe('');
  expect(two.code).toBe(0);
  const second = jsonLines(two.stdout);
  expect(second.map((r) => r.outcome)).toEqual(first.map(() => 'duplicate'));
  expect(second.map((r) => r.rule)).toEqual(first.map(() => 'duplicate.message'));
  // The duplicate names the record the first delivery made.
  expect(second.map((r) => r.record)).toEqual(first.map((r) => r.record));
  expect(snapshot(dirname(store))).toEqual(files); // store, outbox and attachments byte-identical
  return first;
}

describe('idempotency', () => {
  test('the same message twice: the second is a duplicate and changes nothing', async () => {
    const store = demoStoreFile();
    const before = readStore(store);
    const [first] = await twice(store, mailWithAttachment('same@t', Buffer.from('log lines')));
    expect(first!.outcome).toBe('request_created');
    const after = readStore(store);
    expect(after.requests).toHaveLength(before.requests.length + 1);
    expect(after.inbound).toHaveLength(before.inbound.length + 1);
  });

  test('a message without Message-ID gets a stable key: twice (and with a local(8) From line) is a duplicate', async () => {
    const store = demoStoreFile();
    const before = readStore(store);
    const message = eml({ id: '', subject: 'No Message-ID here' });
    const [first] = await twice(store, message);
    expect(first!.outcome).toBe('request_created');
    expect(first!.message_id).toBeNull();
    const entry = readStore(store).inbound.at(-1)!;
    expect(entry.key).toMatch(/^sha256:[0-9a-f]{64} widget-it@mail\.4me\.com$/);
    expect(entry.message_id).toBeNull();
    // The same message as local(8) pipes it, with its envelope line first: the same key.
    const bytes = readFileSync(store);
    const again = await deliver(store, `From ellen.brown@widget.example  Mon Mar  2 08:30:00 2026\n${message}`);
    expect(jsonLines(again.stdout)[0]!.outcome).toBe('duplicate');
    expect(readFileSync(store).equals(bytes)).toBe(true);
    // The same message after a hop that turned its line ends into CRLF: the same key.
    const crlf = await deliver(store, message.replace(/\n/g, '\r\n'));
    expect(jsonLines(crlf.stdout)[0]!.outcome).toBe('duplicate');
    // A different message without Message-ID is not mistaken for it.
    const other = await deliver(store, eml({ id: '', subject: 'Another one without Message-ID' }));
    expect(jsonLines(other.stdout)[0]!.outcome).toBe('request_created');
    expect(readStore(store).requests).toHaveLength(before.requests.length + 2);
  });

  test('the same Message-ID to two inbound addresses is processed once per address', async () => {
    const store = demoStoreFile();
    const before = readStore(store);
    const message = eml({ id: 'two-addresses@t', subject: 'Mail server is down', to: 'widget-it@mail.4me.com, servicedesk.widget-it@mail.4me.com' });
    const addresses = ['widget-it@mail.4me.com', 'servicedesk.widget-it@mail.4me.com'];
    const args = addresses.flatMap((a) => ['--recipient', a]);
    const first = await twice(store, message, args);
    expect(first.map((r) => r.recipient)).toEqual(addresses);
    for (const r of first) expect(['request_created', 'note_added', 'unchanged']).toContain(r.outcome);
    const ledger = readStore(store).inbound.slice(before.inbound.length);
    expect(ledger.map((e) => [e.message_id, e.recipient])).toEqual(addresses.map((a) => ['two-addresses@t', a]));
    // Each address alone, later: a duplicate as well.
    for (const a of addresses) {
      const bytes = readFileSync(store);
      const run = await deliver(store, message, ['--recipient', a]);
      expect(jsonLines(run.stdout).map((r) => r.outcome)).toEqual(['duplicate']);
      expect(readFileSync(store).equals(bytes)).toBe(true);
    }
    // A third address that it was not yet processed for: processed.
    const third = await deliver(store, message, ['--recipient', 'network.widget-it@mail.4me.com']);
    expect(jsonLines(third.stdout)[0]!.outcome).not.toBe('duplicate');
    expect(readStore(store).inbound).toHaveLength(before.inbound.length + 3);
  });
});

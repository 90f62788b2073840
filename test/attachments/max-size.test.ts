/** maxMessageBytes: a larger message is refused with 5.3.4 and quarantined whole, never parsed. */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, jsonLines, runCli, tempDir } from '../helpers/cli.js';
import { file, message, multipart, text } from '../helpers/mime.js';

const LIMIT = 4096;

function setup(config: Record<string, unknown> = { maxMessageBytes: LIMIT }) {
  const dir = tempDir();
  const store = demoStoreFile(dir);
  const cfg = join(dir, 'cfg.json');
  writeFileSync(cfg, JSON.stringify(config));
  const before = readFileSync(store);
  const args = (...extra: string[]) => ['process', '--json', '--store', store, '--config', cfg, '--now', DEMO_NOW, ...extra];
  return { dir, store, before, args };
}

const big = (id: string) => Buffer.from(message({ id }, multipart('mixed', [
  text('A large attachment.'), file(Buffer.alloc(8000, 7), { type: 'application/octet-stream', filename: 'big.bin' }),
])));

describe('maxMessageBytes', () => {
  test('a single larger message: exit 65, one 5.3.4 line on stderr, quarantined byte for byte, nothing else changed', async () => {
    const { store, before, args } = setup();
    const raw = big('big-1@widget.example');
    expect(raw.length).toBeGreaterThan(LIMIT);
    const r = await runCli(args(), { stdin: raw });
    expect(r.code).toBe(65);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // CONTRACT §6: the line starts with the RFC 3463 status.
    expect(r.stderr).toMatch(/^5\.3\.4 .*message of \d+ bytes is larger than maxMessageBytes 4096/);
    const [line] = jsonLines(r.stdout);
    expect(line).toMatchObject({ outcome: 'failed', rule: 'failed.too_large', record: null, error: { status: '5.3.4' } });
    // Unparsed: no Message-ID was read from it.
    expect(line!.message_id).toBeNull();
    const q = `${store}.quarantine`;
    const saved = readdirSync(q).filter((f) => f.endsWith('.eml'));
    expect(saved).toHaveLength(1);
    expect(line!.error!.quarantined).toBe(join(q, saved[0]!));
    expect(readFileSync(join(q, saved[0]!))).toEqual(raw);
    expect(readFileSync(store)).toEqual(before);
    expect(existsSync(`${store}.files`)).toBe(false);
    expect(existsSync(`${store}.outbox`)).toBe(false);
  });

  test('the size is checked before parsing: a large message that is not even email is too_large, not unreadable', async () => {
    const { store, args } = setup();
    const junk = Buffer.alloc(LIMIT + 1, 0xff);
    const r = await runCli(args(), { stdin: junk });
    expect(r.code).toBe(65);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ rule: 'failed.too_large', error: { status: '5.3.4' } });
    expect(readFileSync(join(`${store}.quarantine`, readdirSync(`${store}.quarantine`).find((f) => f.endsWith('.eml'))!))).toEqual(junk);
  });

  test('a message of exactly maxMessageBytes is processed', async () => {
    const raw = Buffer.from(message({ id: 'exact@widget.example' }, text('x')));
    const { args } = setup({ maxMessageBytes: raw.length });
    const r = await runCli(args(), { stdin: raw });
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout)[0]!.outcome).toBe('request_created');
  });

  test('in a batch the larger message is quarantined and counted, the others processed, exit 0', async () => {
    const { dir, store, args } = setup();
    const small = (id: string) => Buffer.from(message({ id, subject: id }, text('small')));
    const mbox = join(dir, 'in.mbox');
    const msgs = [small('s1@widget.example'), big('big-2@widget.example'), small('s2@widget.example')];
    writeFileSync(mbox, Buffer.concat(msgs.flatMap((m) => [Buffer.from('From ellen.brown@widget.example Mon Mar  2 08:30:00 2026\n'), m, Buffer.from('\n\n')])));
    const r = await runCli(args(mbox));
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((l) => [l.outcome, l.rule])).toEqual([
      ['request_created', 'create.new_request'], ['failed', 'failed.too_large'], ['request_created', 'create.new_request'],
    ]);
    const saved = readdirSync(`${store}.quarantine`).filter((f) => f.endsWith('.eml'));
    expect(saved).toHaveLength(1);
    expect(readFileSync(join(`${store}.quarantine`, saved[0]!)).toString()).toContain('Message-ID: <big-2@widget.example>');
  });

  test('--dry-run refuses the same way but quarantines nothing', async () => {
    const { store, before, args } = setup();
    const r = await runCli(args('--dry-run'), { stdin: big('big-3@widget.example') });
    expect(r.code).toBe(65);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ outcome: 'failed', rule: 'failed.too_large', dry_run: true, error: { quarantined: null } });
    expect(existsSync(`${store}.quarantine`)).toBe(false);
    expect(readFileSync(store)).toEqual(before);
  });
});

/** The operator's commands: show, list, outbox (--send with a stand-in sendmail). */
import { beforeAll, expect, test } from '@jest/globals';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, jsonLines, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { copiedTestStore, describeStores, outboxOf, storeInConfig, testStore } from '../helpers/stores.js';

/** The demo replayed once for each block (it takes a while): copied for each test. */
let replayed: { dir: string; store: string } | null = null;

/** The demo's own configuration (trusted authserv-id, alias, second domain), with this store. */
function writeDemoConfig(dir: string, store: string): string {
  const demo = JSON.parse(readFileSync(join(ROOT, 'samples', 'demo.m4merc.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'demo.json'), JSON.stringify({ ...demo, store: storeInConfig(store, dir) }));
  return join(dir, 'demo.json');
}

/** A site of its own after the demo replay: a copy of the block's replayed site folder, and of its database. */
async function demoAfterReplay() {
  if (!replayed) {
    const dir = tempDir();
    const store = await testStore(dir);
    const r = await runCli(['process', '--quiet', '--config', writeDemoConfig(dir, store), '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')]);
    if (r.code !== 0) throw new Error(`the demo replay exited ${r.code}: ${r.stderr}`);
    replayed = { dir, store };
  }
  const dir = tempDir();
  cpSync(replayed.dir, dir, { recursive: true });
  const store = await copiedTestStore(replayed.store, dir);
  writeDemoConfig(dir, store);
  return { dir, store };
}

describeStores('show and list', () => {
  beforeAll(() => { replayed = null; });

  test('show resolves names and lists notes with attachments; --json for scripts', async () => {
    const { store } = await demoAfterReplay();
    const r = await runCli(['show', 'request', '100049', '--store', store]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/request #100049: Scanner error with screenshot/);
    expect(r.stdout).toMatch(/team\s+Service Desk \(#2001\)/);
    expect(r.stdout).toMatch(/requested_by\s+Ellen Brown \(#1001\)/);
    expect(r.stdout).toMatch(/attachment\s+scanner-log\.pdf \(application\/pdf, 67 bytes\)/);
    expect(r.stdout).toMatch(/inline image screenshot\.png <shot1@widget\.example>/);
    const j = await runCli(['show', 'problem', '100010', '--json', '--store', store]);
    const shown = JSON.parse(j.stdout) as { record: { id: number }; notes: { text: string }[] };
    expect(shown.record.id).toBe(100010);
    expect(shown.notes.map((n) => n.text)).toContain('Queue length 1843 messages (warning above 1000).');
  });

  test('show of a missing record or a bad type', async () => {
    const { store } = await demoAfterReplay();
    const missing = await runCli(['show', 'request', '424242', '--store', store]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/424242/);
    const bad = await runCli(['show', 'ticket', '1', '--store', store]);
    expect(bad.code).toBe(64);
  });

  test('list filters by status, team, source and date, newest first', async () => {
    const { store } = await demoAfterReplay();
    const nagios = jsonLines((await runCli(['list', 'request', '--source', 'Nagios', '--json', '--store', store])).stdout) as unknown as { id: number; source: string }[];
    expect(nagios.length).toBeGreaterThanOrEqual(4);
    expect(nagios.every((q) => q.source === 'Nagios')).toBe(true);
    expect(nagios.map((q) => q.id)).toEqual([...nagios.map((q) => q.id)].sort((a, b) => b - a));
    const network = jsonLines((await runCli(['list', 'request', '--team', 'Network', '--json', '--store', store])).stdout) as unknown as { team: number }[];
    expect(network.length).toBe(2);
    expect(network.every((q) => q.team === 2002)).toBe(true);
    const completed = jsonLines((await runCli(['list', 'request', '--status', 'completed', '--json', '--store', store])).stdout) as unknown as { id: number }[];
    expect(completed.map((q) => q.id).sort()).toEqual([100004, 100053]);
    const since = jsonLines((await runCli(['list', 'request', '--since', '2026-03-02', '--json', '--store', store])).stdout);
    expect(since.length).toBe(13); // 100003 and the 12 created by the replay
    const table = await runCli(['list', 'request', '--store', store]);
    expect(table.stdout.split('\n')[0]).toMatch(/ID.*STATUS.*TEAM.*SUBJECT/i);
  });
});

describeStores('outbox', () => {
  beforeAll(() => { replayed = null; });

  test('lists, dry-runs, sends with the sendmail command and moves sent mail to sent/', async () => {
    const { dir, store } = await demoAfterReplay();
    const captured = join(dir, 'captured');
    const fake = join(dir, 'fake-sendmail.sh');
    writeFileSync(fake, `#!/bin/sh\necho "$@" >> ${captured}.args\ncat >> ${captured}\n`);
    chmodSync(fake, 0o755);
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify({ store: storeInConfig(store, dir), sendmail: `${fake} -t -i` }));
    const queued = readdirSync(outboxOf(store)).filter((f) => f.endsWith('.eml'));
    expect(queued.length).toBe(12 + 5); // 12 acknowledgements, 5 Email Rejected replies

    const list = jsonLines((await runCli(['outbox', '--json', '--config', config])).stdout) as unknown as { kind: string; status: string }[];
    expect(list.filter((m) => m.kind === 'email_rejected')).toHaveLength(5);
    const dry = await runCli(['outbox', '--send', '--dry-run', '--config', config]);
    expect(dry.stdout).toMatch(/would send/);
    expect(existsSync(captured)).toBe(false);

    const sent = await runCli(['outbox', '--send', '--config', config]);
    expect(sent.code).toBe(0);
    expect(readdirSync(outboxOf(store)).filter((f) => f.endsWith('.eml'))).toEqual([]);
    expect(readdirSync(join(outboxOf(store), 'sent'))).toHaveLength(queued.length);
    expect(readFileSync(`${captured}.args`, 'utf8').trim().split('\n')[0]).toBe('-t -i');
    expect(readFileSync(captured, 'utf8').match(/^Auto-Submitted: auto-replied/gm)).toHaveLength(queued.length);
  });

  test('a reply the store never recorded (its run was killed) is held, not sent', async () => {
    const { dir, store } = await demoAfterReplay();
    const orphan = join(outboxOf(store), '20260302090000-acknowledgement-orphan.eml');
    writeFileSync(orphan, 'From: widget-it@mail.4me.com\r\nTo: x@y.example\r\nMessage-ID: <m4me.notify.999999.0@mail.4me.com>\r\nX-M4me-Kind: acknowledgement\r\n\r\nhi\r\n');
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify({ store: storeInConfig(store, dir), sendmail: '/bin/true' }));
    const r = await runCli(['outbox', '--send', '--json', '--config', config]);
    expect(r.code).toBe(0);
    const items = jsonLines(r.stdout) as unknown as { file: string; status: string }[];
    expect(items.find((i) => i.file === orphan)!.status).toBe('held');
    expect(items.filter((i) => i.status === 'sent')).toHaveLength(17);
    expect(existsSync(orphan)).toBe(true);
  });

  test('a failing sendmail keeps the message queued with its error, exit 75', async () => {
    const { dir, store } = await demoAfterReplay();
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify({ store: storeInConfig(store, dir), sendmail: '/bin/false' }));
    const r = await runCli(['outbox', '--send', '--config', config]);
    expect(r.code).toBe(75);
    const files = readdirSync(outboxOf(store));
    expect(files.filter((f) => f.endsWith('.eml')).length).toBe(17);
    expect(files.filter((f) => f.endsWith('.eml.error')).length).toBe(17);
    expect(r.stderr).toMatch(/^4\.4\.0 m4me: 17 of 17 messages not sent \(\/bin\/false exited 1: \); they stay queued\n$/);
    // Listing it later still says why.
    const listed = jsonLines((await runCli(['outbox', '--json', '--config', config])).stdout) as unknown as { status: string; error: string }[];
    expect(listed).toHaveLength(17);
    for (const i of listed) expect([i.status, i.error]).toEqual(['failed', '/bin/false exited 1:']);
  });

  test('two --send at once: the second defers (75) instead of sending the same mail again', async () => {
    const { dir, store } = await demoAfterReplay();
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify({ store: storeInConfig(store, dir), sendmail: '/bin/true' }));
    mkdirSync(join(outboxOf(store), '.send.lock'));
    const r = await runCli(['outbox', '--send', '--config', config]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/^4\.3\.0 m4me: another outbox --send is running/);
    expect(readdirSync(outboxOf(store)).filter((f) => f.endsWith('.eml'))).toHaveLength(17);
  });

  test('list: --source and --status ignore case, --since takes a date, a time with offset or an age, and nothing looser', async () => {
    const { store } = await demoAfterReplay();
    const list = async (...args: string[]) => runCli(['list', 'request', '--json', '--store', store, ...args]);
    const count = async (...args: string[]) => jsonLines((await list(...args)).stdout).length;
    const nagios = await count('--source', 'Nagios');
    expect(nagios).toBeGreaterThan(0);
    expect(await count('--source', 'nagios')).toBe(nagios);
    expect(await count('--status', 'ASSIGNED')).toBe(await count('--status', 'assigned'));
    const all = await count();
    expect(await count('--since', '2000-01-01')).toBe(all);
    expect(await count('--since', '2026-03-02T08:00:00+00:00')).toBeLessThan(all);
    expect(await count('--since', '100000w')).toBe(all);
    for (const bad of ['1', 'March 1', '2026', 'yesterday']) {
      const r = await list('--since', bad);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/^5\.5\.4 m4me: --since: expected a date/);
    }
  });
});

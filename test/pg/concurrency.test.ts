/**
 * Many m4me processes on one PostgreSQL store at once, through the real CLI: two "hosts"
 * (two configurations, two outboxes) deliver in parallel into one database.
 *  - one message delivered by several processes at once: one request, the others duplicate;
 *  - copies of one alert (distinct Message-IDs, same event) at the same moment: one request,
 *    the others matched to it by event matching;
 *  - each reply is queued once, in the outbox of the host that created the request.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG } from '../decisions/cases.js';
import { BIN, DEMO_NOW, demoStoreFile, jsonLines, ROOT, runCli, type Run, tempDir } from '../helpers/cli.js';
import { describePg } from './cluster.js';

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

const PARALLEL = 8;
const ROUNDS = 4;

describePg('parallel deliveries into one PostgreSQL store', (pgc) => {
  let dir = '';
  let hosts: string[] = [];
  let start = '';
  beforeAll(() => {
    dir = tempDir('m4me-pgpar-');
    start = demoStoreFile(dir);
    hosts = ['a', 'b'].map((h) => {
      const config = join(dir, `host-${h}.json`);
      writeFileSync(config, JSON.stringify({ ...CONFIG, outbox: `./outbox-${h}`, quarantine: `./quarantine-${h}` }));
      return config;
    });
  });

  /** A fresh database holding the demo store (or `from`). */
  const database = async (name: string, from = start) => {
    const url = pgc().createDatabase(name);
    ok('copy-store', await runCli(['copy-store', from, url, '--quiet']));
    names.set(url, name);
    return url;
  };

  /**
   * Runs every message at the same moment, alternating between the two hosts: every process
   * is started first, and only once all are up and waiting for standard input does each get
   * its message (node's start-up would otherwise spread them over a second).
   */
  const deliverAll = async (url: string, messages: string[]): Promise<Run[]> => {
    const children = messages.map((m, i) => {
      const child = spawn(process.execPath, [BIN, 'process', '--json', '--config', hosts[i % 2]!, '--store', url, '--now', DEMO_NOW],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const done = new Promise<Run>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
      });
      return { child, done, message: m };
    });
    await new Promise((r) => setTimeout(r, 1500));
    for (const c of children) c.child.stdin.end(c.message);
    return Promise.all(children.map((c) => c.done));
  };

  const names = new Map<string, string>();
  const rows = (url: string, sql: string) => pgc().psql(sql, names.get(url)).trim().split('\n').filter(Boolean);
  const outbox = (h: string) => (existsSync(join(dir, `outbox-${h}`)) ? readdirSync(join(dir, `outbox-${h}`)).filter((f) => f.endsWith('.eml')) : []);

  test(`one message delivered by ${PARALLEL} processes on two hosts at once: one request, ${PARALLEL - 1} duplicates`, async () => {
    const url = await database('same_message');
    const eml = readFileSync(join(ROOT, 'samples', '01-end-user-request.eml'), 'utf8');
    const runs = await deliverAll(url, Array.from({ length: PARALLEL }, () => eml));
    const results = runs.map((r) => { ok('process', r); return jsonLines(r.stdout)[0]!; });
    const outcomes = results.map((r) => r.outcome).sort();
    expect(outcomes).toEqual([...Array.from({ length: PARALLEL - 1 }, () => 'duplicate'), 'request_created']);
    const created = results.find((r) => r.outcome === 'request_created')!;
    // Every duplicate names the request the winner created.
    for (const r of results) expect(r.record).toEqual(created.record);
    expect(rows(url, `SELECT id FROM m4me_records WHERE type = 'request' AND message_id = 'demo-01@widget.example'`)).toEqual([String(created.record!.id)]);
    expect(rows(url, `SELECT count(*) FROM m4me_inbound WHERE message_id = 'demo-01@widget.example'`)).toEqual(['1']);
    expect(rows(url, `SELECT count(*) FROM m4me_notes WHERE message_id = 'demo-01@widget.example'`)).toEqual(['1']);
    // One acknowledgement, in one host's outbox.
    expect([...outbox('a'), ...outbox('b')]).toHaveLength(1);
    expect(rows(url, 'SELECT count(*) FROM m4me_auto_replies')).toEqual(['1']);
  });

  test(`${PARALLEL} copies of one alert (own Message-IDs) at the same moment, ${ROUNDS} times: one request each, matched by event`, async () => {
    const url = await database('same_alert');
    const before = Number(rows(url, `SELECT count(*) FROM m4me_records WHERE type = 'request'`)[0]);
    // The monitoring alert of sample 04 without #sourceID: only event matching (account,
    // source, requested_for, service instance, CI) can tell the copies belong together.
    // Each round is another event (its own #source).
    const alert = readFileSync(join(ROOT, 'samples', '04-monitoring-alert.eml'), 'utf8').replace(/^#sourceID:.*\r?\n/m, '');
    expect(alert).not.toContain('#sourceID');
    for (let round = 0; round < ROUNDS; round++) {
      const source = `Nagios-${round}`;
      const messages = Array.from({ length: PARALLEL }, (_, i) => alert.replace('#source: Nagios', `#source: ${source}`)
        .replace('<demo-04@monitoring.widget.example>', `<alert-${round}-${i}@monitoring.widget.example>`));
      const runs = await deliverAll(url, messages);
      const results = runs.map((r) => { ok('process', r); return jsonLines(r.stdout)[0]!; });
      const created = results.filter((r) => r.outcome === 'request_created');
      expect(created.map((r) => (r as { request?: { source: string } }).request?.source)).toEqual([source]);
      // The same text again: the request is left as it is (match.event, unchanged).
      const others = results.filter((r) => r.outcome !== 'request_created');
      expect(others.map((r) => [r.outcome, r.rule, r.record])).toEqual(Array.from({ length: PARALLEL - 1 }, () => ['unchanged', 'match.event', created[0]!.record]));
      expect(rows(url, `SELECT count(*) FROM m4me_records WHERE type = 'request' AND doc->>'source' = '${source}'`)).toEqual(['1']);
    }
    expect(rows(url, `SELECT count(*) FROM m4me_records WHERE type = 'request'`)).toEqual([String(before + ROUNDS)]);
    expect(rows(url, `SELECT count(*), count(DISTINCT key) FROM m4me_inbound WHERE message_id LIKE 'alert-%'`)).toEqual([`${PARALLEL * ROUNDS}|${PARALLEL * ROUNDS}`]);
  });

  test(`${PARALLEL} requests from one unknown sender at once (people are created for unknown senders): one person`, async () => {
    const from = demoStoreFile(tempDir(), (d) => { d.accounts.find((a) => a.id === 'widget-it')!.email_policy.auto_create_people = true; });
    const url = await database('one_person', from);
    const eml = readFileSync(join(ROOT, 'test', 'decisions', 'cases', 'sender-auto-create.eml'), 'utf8');
    const messages = Array.from({ length: PARALLEL }, (_, i) => eml.replace('<sender-auto-create@test.example>', `<new-${i}@test.example>`)
      .replace('Subject: Printer on floor 3 is broken', `Subject: Question ${i}`).replace('Hello.', `Hello, question ${i}.`));
    const runs = await deliverAll(url, messages);
    const results = runs.map((r) => { ok('process', r); return jsonLines(r.stdout)[0]! as { outcome: string; request?: { requested_by: number } }; });
    expect(results.map((r) => r.outcome)).toEqual(Array.from({ length: PARALLEL }, () => 'request_created'));
    const people = rows(url, `SELECT id FROM m4me_people WHERE primary_email = 'new.person@elsewhere.example'`);
    expect(people).toHaveLength(1);
    expect(results.map((r) => r.request?.requested_by)).toEqual(Array.from({ length: PARALLEL }, () => Number(people[0])));
  });

  test('deliveries killed (kill -9) at random moments and delivered again: every message applied once, every reply queued once', async () => {
    const url = await database('killed');
    // Two hosts of its own: their outboxes hold only this test's replies.
    const own = ['ka', 'kb'].map((h) => {
      const config = join(dir, `host-${h}.json`);
      writeFileSync(config, JSON.stringify({ ...CONFIG, outbox: `./outbox-${h}`, quarantine: `./quarantine-${h}` }));
      return config;
    });
    const base = readFileSync(join(ROOT, 'samples', '01-end-user-request.eml'), 'utf8');
    const COUNT = 12;
    const messages = Array.from({ length: COUNT }, (_, i) => base.replace('<demo-01@widget.example>', `<killed-${i}@widget.example>`)
      .replace('Subject: Printer on floor 3 is broken', `Subject: Killed ${i}`).replace('paper jam', `paper jam ${i}`));
    const deliver = (i: number, killAfterMs: number | null) => new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'process', '--quiet', '--config', own[i % 2]!, '--store', url, '--now', DEMO_NOW],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' }, stdio: ['pipe', 'ignore', 'ignore'] });
      child.stdin.end(messages[i]);
      const timer = killAfterMs === null ? null : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      child.on('close', (code) => { if (timer) clearTimeout(timer); resolve(code); });
    });
    // Seeded, so a failure can be replayed.
    let seed = 20261203;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    let pending = messages.map((_, i) => i);
    let killed = 0;
    for (let round = 0; pending.length && round < 20; round++) {
      // The first rounds kill about half of the processes, somewhere in their run; the last ones none.
      const codes = await Promise.all(pending.map((i) => deliver(i, round < 3 && random() < 0.5 ? 150 + Math.floor(random() * 500) : null)));
      killed += codes.filter((c) => c !== 0).length;
      pending = pending.filter((_, n) => codes[n] !== 0);
    }
    expect(pending).toEqual([]);
    expect(killed).toBeGreaterThan(0);
    // One more delivery on each host (a duplicate) puts in place or removes what a killed process left.
    for (const h of [0, 1]) expect(await deliver(h, null)).toBe(0);
    expect(rows(url, `SELECT count(*), count(DISTINCT key) FROM m4me_inbound WHERE message_id LIKE 'killed-%'`)).toEqual([`${COUNT}|${COUNT}`]);
    expect(rows(url, `SELECT count(*), count(DISTINCT message_id) FROM m4me_records WHERE type = 'request' AND message_id LIKE 'killed-%'`)).toEqual([`${COUNT}|${COUNT}`]);
    expect(rows(url, `SELECT count(*) FROM m4me_notes WHERE message_id LIKE 'killed-%'`)).toEqual([String(COUNT)]);
    // Every recorded reply is in one outbox, once; no temporary file is left.
    const replies = rows(url, `SELECT doc->>'message_id' FROM m4me_auto_replies ORDER BY 1`);
    expect(replies).toHaveLength(COUNT);
    const all = ['ka', 'kb'].flatMap((h) => (existsSync(join(dir, `outbox-${h}`)) ? readdirSync(join(dir, `outbox-${h}`)) : []));
    expect(all.filter((f) => !f.endsWith('.eml'))).toEqual([]);
    expect(all).toHaveLength(COUNT);
  });
});

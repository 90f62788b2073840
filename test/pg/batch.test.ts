/**
 * A batch (`m4me process` of an archive) on a PostgreSQL store commits many messages per
 * transaction (src/store/pg/store.ts: one savepoint per message, a commit every few dozen).
 * Tried with a realistic workload (../shared/bench/gen-workload.mjs: 300 messages of every
 * kind, about one reply for every second message) that crosses many batch commits:
 *
 * - replayed into PostgreSQL and into the JSON store from the same store: the same results,
 *   the same outbox, and the database copied back is the JSON store's file byte for byte,
 *   in far fewer transactions than messages;
 * - killed (kill -9) in the middle, then run again: every message once, every reply once,
 *   no temporary file left; what the first run committed is a duplicate in the second;
 * - the same archive replayed by two hosts at once (two batches racing on the same keys,
 *   each waiting for the other's locks): every message applied once.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BIN, ROOT, runCli, type Run, tempDir } from '../helpers/cli.js';
import { snapshot, until } from '../reliability/helpers.js';
import { describePg } from './cluster.js';

const GEN = resolve(ROOT, '..', 'shared', 'bench', 'gen-workload.mjs');
const NOW = '2026-03-05T00:00:00+00:00';
const MESSAGES = 300;

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout.slice(0, 500)}`);
  return r;
};
const outcomes = (r: Run) => r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { outcome: string }).outcome);

if (!existsSync(GEN)) console.warn('NOTICE: ../shared/bench/gen-workload.mjs is absent; the PostgreSQL batch tests are skipped');
const describeIf = existsSync(GEN) ? describePg : (title: string) => test.skip(title, () => undefined);

describeIf('batches of messages per PostgreSQL transaction', (pgc) => {
  let dir = '';
  let mbox = '';
  let store = '';
  let reference: { run: Run; outbox: Record<string, string>; counts: string; transactions: number };

  const config = (name: string) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify({ mailDomain: 'mail.4me.com', outbox: `./outbox-${name}` }));
    return path;
  };
  const replay = (cfg: string, target: string) =>
    ['process', '--json', '--quiet', '--now', NOW, '--config', cfg, '--store', target, mbox];
  const loaded = async (name: string) => {
    const url = pgc().createDatabase(name);
    ok('copy-store', await runCli(['copy-store', store, url, '--quiet']));
    return url;
  };
  const outbox = (name: string) => snapshot(join(dir, `outbox-${name}`));
  /** The Message-IDs of the replies the store recorded, and the outbox files that hold one (`@` is `_` in a file name). */
  const recordedReplies = (db: string) => pgc().psql(`SELECT doc->>'message_id' FROM m4me_auto_replies`, db).trim().split('\n');
  const holding = (files: string[], id: string) => files.filter((f) => f.includes(id.replace('@', '_')));
  /** The store's rows by collection, as counts (IDs may differ after a killed run took sequence values). */
  const counts = (db: string) => pgc().psql(`SELECT (SELECT count(*) FROM m4me_records WHERE type = 'request'), (SELECT count(*) FROM m4me_notes),
    (SELECT count(*) FROM m4me_inbound), (SELECT count(DISTINCT key) FROM m4me_inbound), (SELECT count(*) FROM m4me_auto_replies),
    (SELECT count(*) FROM m4me_notifications), (SELECT count(*) FROM m4me_people)`, db).trim();

  beforeAll(async () => {
    dir = tempDir('m4me-pgbatch-');
    const gen = spawnSync(process.execPath, [GEN, '--messages', String(MESSAGES), '--seed', '11', '--out', join(dir, 'wl')], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`gen-workload: ${gen.stderr}`);
    mbox = join(dir, 'wl', 'workload.mbox');
    store = join(dir, 'wl', 'store.json');
    // Named as the generated store (notes name attachment files by the store's name).
    mkdirSync(join(dir, 'json'));
    const json = join(dir, 'json', 'store.json');
    copyFileSync(store, json);
    const url = await loaded('reference');
    const commits = () => Number(pgc().psql(`SELECT xact_commit FROM pg_stat_database WHERE datname = 'reference'`).trim());
    const before = commits();
    const [a, b] = await Promise.all([runCli(replay(config('json'), json)), runCli(replay(config('reference'), url))]);
    ok('json replay', a);
    reference = { run: ok('pg replay', b), outbox: outbox('reference'), counts: counts('reference'), transactions: commits() - before };
    if (b.stdout !== a.stdout) {
      const [x, y] = [a.stdout.split('\n'), b.stdout.split('\n')];
      const at = x.findIndex((l, i) => l !== y[i]);
      throw new Error(`results differ from line ${at + 1}:\njson: ${x[at]?.slice(0, 800)}\npg:   ${y[at]?.slice(0, 800)}`);
    }
    expect(reference.outbox).toEqual(outbox('json'));
    const back = join(dir, 'back.json');
    ok('copy back', await runCli(['copy-store', url, back, '--quiet']));
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(json, 'utf8'));
  }, 180_000);

  test(`${MESSAGES} messages of every kind: results, outbox and document as the JSON store's`, () => {
    const all = outcomes(reference.run);
    expect(all).toHaveLength(MESSAGES);
    // The workload holds each kind of outcome, and replies: the batches did real work.
    for (const o of ['request_created', 'note_added', 'rejected', 'unchanged']) expect(all).toContain(o);
    expect(Object.keys(reference.outbox).length).toBeGreaterThan(MESSAGES / 4);
    expect(Object.keys(reference.outbox).filter((f) => !f.endsWith('.eml'))).toEqual([]);
    // Many messages per transaction (a transaction per message would be 300 and more).
    expect(reference.transactions).toBeGreaterThan(0);
    expect(reference.transactions).toBeLessThan(MESSAGES / 4);
  });

  test('killed (kill -9) mid-replay, then run again: every message and every reply once, nothing left over', async () => {
    const url = await loaded('killed');
    const cfg = config('killed');
    const child = spawn(process.execPath, [BIN, ...replay(cfg, url)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' } });
    const printed: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => printed.push(d));
    const closed = new Promise((r) => child.on('close', r));
    // Killed once a few batches are committed, well before the end.
    const committed = () => Number(pgc().psql('SELECT count(*) FROM m4me_inbound', 'killed').trim());
    await until(() => committed() >= MESSAGES / 3, 60_000, 'a third of the messages committed');
    child.kill('SIGKILL');
    await closed;
    const first = committed();
    expect(first).toBeLessThan(MESSAGES);
    // Whatever the killed run printed was committed (results are printed after the commit).
    expect(Buffer.concat(printed).toString().split('\n').filter(Boolean).length).toBeLessThanOrEqual(first);
    const again = ok('again', await runCli(replay(cfg, url)));
    const second = outcomes(again);
    const expected = outcomes(reference.run);
    // Its first messages were committed by the killed run: duplicates now; the rest as the reference.
    expect(second.slice(first)).toEqual(expected.slice(first));
    expect(second.slice(0, first).every((o) => o === 'duplicate')).toBe(true);
    expect(counts('killed')).toBe(reference.counts);
    // As many replies, each recorded one in the outbox once, no temporary file. (Their names
    // hold request IDs: the killed transaction took sequence values that are not given back.)
    const files = Object.keys(outbox('killed'));
    expect(files.filter((f) => !f.endsWith('.eml'))).toEqual([]);
    expect(files).toHaveLength(Object.keys(reference.outbox).length);
    expect(recordedReplies('killed').every((id) => holding(files, id).length > 0)).toBe(true);
  }, 180_000);

  test('two hosts replay the same archive at once: every message applied once', async () => {
    const url = await loaded('twohosts');
    const [a, b] = await Promise.all([runCli(replay(config('host-a'), url)), runCli(replay(config('host-b'), url))]);
    ok('host a', a);
    ok('host b', b);
    expect(counts('twohosts')).toBe(reference.counts);
    // Each message was applied by one host; the other saw a duplicate (as did both, for the
    // messages the archive itself holds twice).
    const applied = (r: Run) => outcomes(r).filter((o) => o !== 'duplicate').length;
    const once = outcomes(reference.run).filter((o) => o !== 'duplicate').length;
    expect(applied(a) + applied(b)).toBe(once);
    // Every reply recorded is in one of the two outboxes, once. Their names hold request IDs,
    // which may differ from the reference's: a message retried after a lock conflict took
    // sequence values that are not given back. The rest of a name is the message's own.
    const files = [...Object.keys(outbox('host-a')), ...Object.keys(outbox('host-b'))];
    expect(files.filter((f) => !f.endsWith('.eml'))).toEqual([]);
    const withoutIds = (names: string[]) => names.map((f) => f.replace(/\.notify\.\d+\./, '.notify.ID.')).sort();
    expect(withoutIds(files)).toEqual(withoutIds(Object.keys(reference.outbox)));
    const recorded = recordedReplies('twohosts');
    expect(recorded).toHaveLength(files.length);
    expect(recorded.every((id) => holding(files, id).length === 1)).toBe(true);
  }, 180_000);
});

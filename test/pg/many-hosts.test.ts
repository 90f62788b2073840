/**
 * Two MX hosts sharing one PostgreSQL database, through the real CLI, as Postfix's pipe(8)
 * runs it: `m4me process --config host-X.json --recipient … --sender …`, one message on
 * standard input per process. Each host has its own configuration (the same `store` URL,
 * its own outbox and quarantine folder).
 *
 * Round 1: 60 distinct end-user messages (each a new request) spread at random over both
 * hosts, 8 processes at a time; in the middle of it, 10 copies of one monitoring alert (own
 * Message-IDs, one event: account, source, requested_for, CI) and one message delivered on
 * both hosts arrive at the same moment, and reach the database's locks together (the gate
 * of `run`). Every delivery exits 0 (a 75 is retried, as Postfix would); 62 requests are
 * created, every message is once in the inbound ledger, every acknowledgement is in the
 * outbox of the host that created the request, once.
 *
 * Round 2: the same mix, smaller (24 end-user messages, 6 alert copies, one message on both
 * hosts), with half of the deliveries killed (SIGKILL) while running, at a random moment,
 * once a reply is written under its temporary name, or once the transaction committed, and
 * delivered again (same bytes, same host) until they exit 0. Every message is in the store
 * exactly once whatever moment the kill came at (before its COMMIT: applied by the
 * re-delivery; after it: the re-delivery is a duplicate); after one more delivery on each
 * host (which recovers what a killed process left in its outbox), every reply the database
 * recorded is in one outbox once and no temporary file is left.
 *
 * Expected counts are computed from the generated inputs. The random choices (hosts, order,
 * which deliveries are killed and when) are seeded: M4ME_MANYHOSTS_SEED replays a run (a
 * failure message names its seed); the kill moments are timing, so a replay is close, not exact.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Result } from '../../src/cli/result.js';
import { outboxMessageId } from '../../src/store/outbox.js';
import { openPool, type PgDb } from '../../src/store/pg/connect.js';
import type { StoreData } from '../../src/store/schema.js';
import { CONFIG } from '../decisions/cases.js';
import { BIN, DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, ROOT, runCli, type Run, tempDir } from '../helpers/cli.js';
import { describePg } from './cluster.js';

const HOSTS = ['a', 'b'] as const;
type Host = (typeof HOSTS)[number];

/** Processes of the random stream running at once (the burst comes on top). */
const POOL = 8;
/** Deliveries of one message before the test gives up on it (75s and kills included). */
const MAX_ATTEMPTS = 12;
const INBOUND = 'widget-it@mail.4me.com';
const SEED = Number(process.env.M4ME_MANYHOSTS_SEED) || 20260302;
/** Longest the burst is held at the gate (its processes' lock_timeout is longer). */
const GATE_MS = 45_000;

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

/** A seeded generator (replayable choices). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

interface Delivery {
  kind: 'user' | 'alert' | 'both';
  host: Host;
  messageId: string;
  bytes: string;
  /** How the first attempts are killed (SIGKILL); a later attempt runs to its end. */
  kills: Kill[];
  /** Its place in the burst (every attempt's processes are named after it), if in it. */
  burst?: number;
}

/**
 * `ms`: that long after the message was handed over; `temp`: as soon as the process has
 * written a reply under its temporary name (inside its transaction, before or while it
 * commits); `commit`: as soon as its ledger entry is visible in the database (committed,
 * not yet acknowledged).
 */
type Kill = { after: 'ms'; ms: number } | { after: 'temp' } | { after: 'commit' };

interface Delivered {
  delivery: Delivery;
  result: Result;
  /** Exit code, or the signal, of every attempt. */
  exits: (number | string)[];
  /** Attempts that were killed by SIGKILL while running. */
  killed: number;
  /** Kills that landed after the message's ledger entry was seen committed. */
  killedAfterCommit: number;
  /** Temporary reply files a killed attempt was seen to leave behind. */
  tempsLeft: number;
  /** Milliseconds from spawn to exit of the acknowledged attempt. */
  ms: number;
}

interface Proc {
  pid: number;
  /** Hands the message over (writes standard input); the process was started before. */
  release(): void;
  kill(): void;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }>;
}

describePg('two MX hosts sharing one PostgreSQL store', (pgc) => {
  let dir = '';
  let url = '';
  const config: Record<Host, string> = { a: '', b: '' };
  const outboxOf = (h: Host) => join(dir, `outbox-${h}`);
  const random = rng(SEED);
  const failures: string[] = [];
  let medianMs = 0;
  let db: PgDb | null = null;

  beforeAll(async () => {
    dir = tempDir('m4me-pghosts-');
    url = pgc().createDatabase('many_hosts');
    ok('copy-store', await runCli(['copy-store', demoStoreFile(dir), url, '--quiet']));
    for (const h of HOSTS) {
      config[h] = join(dir, `host-${h}.json`);
      // maxAutoRepliesPerDay well above the messages of one sender: every new request is
      // acknowledged, so the outboxes can be checked exactly.
      writeFileSync(config[h], JSON.stringify({
        ...CONFIG, store: url, outbox: `./outbox-${h}`, quarantine: `./quarantine-${h}`, maxAutoRepliesPerDay: 1000,
      }));
    }
    db = await openPool(url, { max: 4 });
  }, 60_000);
  afterAll(async () => { await db?.close(); });

  /** Calls `kill` once `pid` has a temporary file in `host`'s outbox; returns the stop. */
  const onTemp = (host: Host, pid: number, kill: () => void) => {
    mkdirSync(outboxOf(host), { recursive: true });
    const mine = new RegExp(`\\.${pid}-[0-9a-f]{8}-\\d+\\.tmp$`);
    const w = watch(outboxOf(host), (_e, name) => { if (name && mine.test(String(name))) { w.close(); kill(); } });
    w.on('error', () => undefined);
    return () => w.close();
  };

  /** Calls `kill` once the ledger holds `messageId` (committed); returns the stop. */
  const onCommit = (messageId: string, kill: () => void) => {
    let stopped = false;
    void (async () => {
      while (!stopped) {
        const r = await db!.pool.query('SELECT 1 FROM m4me_inbound WHERE message_id = $1', [messageId]).catch(() => null);
        if (!stopped && r?.rowCount) { stopped = true; kill(); return; }
        await new Promise((w) => setTimeout(w, 3));
      }
    })();
    return () => { stopped = true; };
  };

  /** Starts `m4me process` of `host` as pipe(8) would; the message goes in on release(). */
  const start = (d: Delivery): Proc => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'process', '--json', '--quiet', '--config', config[d.host], '--recipient', INBOUND,
      '--sender', 'mta-sender@widget.example', '--now', DEMO_NOW],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1',
      // A burst process may wait at the gate past m4me's default lock_timeout (10 s).
      ...(d.burst === undefined ? {} : { PGAPPNAME: `m4me-burst-${d.burst}`, M4ME_PG_LOCK_TIMEOUT_MS: String(GATE_MS * 2) }) } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined);
    const done = new Promise<Awaited<Proc['done']>>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({
        code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), ms: performance.now() - t0,
      }));
    });
    return { pid: child.pid!, release: () => child.stdin.end(d.bytes), kill: () => { child.kill('SIGKILL'); }, done };
  };

  /**
   * Delivers until exit 0: a 75 or a kill (SIGKILL, as planned in `d.kills`) is followed by
   * the same bytes on the same host, as Postfix retries a deferred or crashed delivery.
   */
  const deliver = async (d: Delivery, first?: Proc): Promise<Delivered> => {
    const exits: (number | string)[] = [];
    let killed = 0;
    let killedAfterCommit = 0;
    let tempsLeft = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = attempt === 0 && first ? first : start(d);
      const k = d.kills[attempt];
      let afterCommit = false;
      let stop = () => undefined as void;
      if (k?.after === 'temp') stop = onTemp(d.host, p.pid, p.kill);
      p.release();
      if (k?.after === 'ms') { const t = setTimeout(p.kill, k.ms); stop = () => clearTimeout(t); }
      if (k?.after === 'commit') stop = onCommit(d.messageId, () => { afterCommit = true; p.kill(); });
      const r = await p.done;
      stop();
      exits.push(r.signal ?? r.code ?? -1);
      if (r.signal === 'SIGKILL') {
        killed++;
        if (afterCommit) killedAfterCommit++;
        if (existsSync(outboxOf(d.host))) tempsLeft += readdirSync(outboxOf(d.host)).filter((f) => f.includes(`.${p.pid}-`) && f.endsWith('.tmp')).length;
        continue;
      }
      // (Math.random: the seeded choices stay the same whatever the timing.)
      if (r.code === 75) { await new Promise((w) => setTimeout(w, 20 + Math.floor(Math.random() * 80))); continue; }
      if (r.code !== 0) {
        failures.push(`${d.messageId} on ${d.host}: exit ${r.code}: ${r.stderr.trim()}`);
        throw new Error(`${d.messageId} on host ${d.host}: exit ${r.code} (seed ${SEED}): ${r.stderr}${r.stdout}`);
      }
      const lines = jsonLines(r.stdout);
      if (lines.length !== 1) throw new Error(`${d.messageId}: ${lines.length} result lines: ${r.stdout}`);
      return { delivery: d, result: lines[0]!, exits, killed, killedAfterCommit, tempsLeft, ms: r.ms };
    }
    throw new Error(`${d.messageId} on host ${d.host}: no exit 0 in ${MAX_ATTEMPTS} attempts: ${exits.join(',')} (seed ${SEED})`);
  };

  /**
   * Runs `stream` in a random order, POOL at a time; the burst's processes are started
   * first and get their messages at one moment, once a third of the stream is done (so
   * they arrive in the middle of other traffic).
   *
   * Arriving at one moment is not enough for a race: a process takes hundreds of
   * milliseconds (seconds on a loaded machine) to connect and decide, and its critical
   * section is a few. So the burst goes through a gate: the test holds m4me_records in
   * EXCLUSIVE mode (reads go on, writes wait) from just before the burst is released until
   * every burst delivery waits on a lock (the gate, or an advisory lock of m4me behind a
   * delivery waiting at the gate) or GATE_MS have passed (on a loaded machine a process
   * takes seconds to get there). Without m4me's locks, every copy of the alert would then
   * have decided on the same state (no request yet) and inserted one. Deliveries of the
   * stream wait at the gate too (one past m4me's lock_timeout retries, as it would behind
   * a slow host). `waiting`: how many burst deliveries were waiting when the gate opened.
   */
  const run = async (stream: Delivery[], burst: Delivery[]): Promise<{ results: Delivered[]; waiting: number }> => {
    burst.forEach((d, i) => { d.burst = i; });
    const prestarted = burst.map((d) => start(d));
    let waiting = 0;
    let settled = 0;
    let completed = 0;
    let fire!: () => void;
    const fired = new Promise<void>((r) => { fire = r; });
    const releaseAt = Math.floor(stream.length / 3);
    const results: Delivered[] = [];
    let next = 0;
    const worker = async () => {
      while (next < stream.length) {
        const d = stream[next++]!;
        results.push(await deliver(d));
        if (++completed === releaseAt) fire();
      }
    };
    const bursting = fired.then(async () => {
      const gate = await db!.pool.connect();
      try {
        await gate.query('BEGIN');
        await gate.query('LOCK TABLE m4me_records IN EXCLUSIVE MODE');
        const all = Promise.all(burst.map((d, i) => deliver(d, prestarted[i]).finally(() => { settled++; })));
        all.catch(() => undefined);
        for (const until = performance.now() + GATE_MS; performance.now() < until;) {
          // On another connection: a transaction sees one snapshot of pg_stat_activity. Distinct
          // names: a killed delivery's backend can wait on there beside its re-delivery.
          const r = await db!.pool.query<{ n: string }>(`SELECT count(DISTINCT application_name) AS n FROM pg_stat_activity
            WHERE application_name LIKE 'm4me-burst-%' AND wait_event_type = 'Lock'`);
          waiting = Number(r.rows[0]!.n);
          // (A killed delivery can be done before it got there: round 2.)
          if (waiting + settled >= burst.length) break;
          await new Promise((w) => setTimeout(w, 25));
        }
        await gate.query('COMMIT');
        return await all;
      } finally {
        gate.release();
      }
    });
    if (releaseAt === 0) fire();
    try {
      await Promise.all(Array.from({ length: POOL }, worker));
      results.push(...(await bursting));
    } catch (err) {
      fire();
      await Promise.allSettled([bursting]);
      throw err;
    }
    return { results, waiting };
  };

  /** A round's messages: `users` end-user messages, `alerts` copies of one alert, one message for both hosts. */
  const messages = (round: string, users: number, alerts: number) => {
    const host = (): Host => (random() < 0.5 ? 'a' : 'b');
    const senders = ['Ellen Brown <ellen.brown@widget.example>', 'Beatrice Baldwin <beatrice.baldwin@widget.example>'];
    const stream: Delivery[] = Array.from({ length: users }, (_, i) => {
      const messageId = `${round}-user-${i}@widget.example`;
      return {
        kind: 'user' as const, host: host(), messageId, kills: [],
        bytes: eml({ from: senders[i % 2], to: INBOUND, id: messageId, subject: `${round}: laptop ${i} will not boot` },
          `Laptop asset ${round}-${i} shows a black screen after the logo.\n`),
      };
    });
    // The monitoring alert of sample 04 without #sourceID: only event matching (account,
    // source, requested_for, service instance, CI within 24 h) folds the copies into one request.
    const alert = readFileSync(join(ROOT, 'samples', '04-monitoring-alert.eml'), 'utf8').replace(/^#sourceID:.*\r?\n/m, '')
      .replace('#source: Nagios', `#source: Nagios-${round}`);
    expect(alert).not.toContain('#sourceID');
    const copies: Delivery[] = Array.from({ length: alerts }, (_, i) => {
      const messageId = `${round}-alert-${i}@monitoring.widget.example`;
      return { kind: 'alert' as const, host: host(), messageId, kills: [], bytes: alert.replace('<demo-04@monitoring.widget.example>', `<${messageId}>`) };
    });
    const bothId = `${round}-both@widget.example`;
    const both = eml({ to: INBOUND, id: bothId, subject: `${round}: the meeting room screen flickers` }, 'It flickers every few seconds.\n');
    const twice: Delivery[] = HOSTS.map((h) => ({ kind: 'both' as const, host: h, messageId: bothId, kills: [], bytes: both }));
    return { stream: shuffle(stream, random), burst: shuffle([...copies, ...twice], random), source: `Nagios-${round}` };
  };

  /** The store as a JSON document (copy-store, CONTRACT §7: what the JSON store would hold). */
  const snapshot = async (name: string): Promise<StoreData> => {
    const file = join(dir, `${name}.json`);
    ok('copy-store', await runCli(['copy-store', url, file, '--quiet', '--force']));
    return readStore(file);
  };

  const rows = (sql: string) => pgc().psql(sql, 'many_hosts').trim().split('\n').filter(Boolean);

  /** Every file of a host's outbox (the `sent/` folder aside). */
  const outboxFiles = (h: Host) => (existsSync(outboxOf(h)) ? readdirSync(outboxOf(h)).filter((f) => f !== 'sent') : []);
  /** Message-ID of every reply file, by host. */
  const replyIds = (h: Host) => outboxFiles(h).filter((f) => f.endsWith('.eml')).map((f) => outboxMessageId(join(outboxOf(h), f)));

  const count = <T>(items: T[]) => {
    const m = new Map<T, number>();
    for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };

  /** The store checks both rounds share: one request per message that creates one, one ledger entry per message. */
  const checkStore = (before: StoreData, after: StoreData, ds: Delivery[], source: string) => {
    const ids = [...new Set(ds.map((d) => d.messageId))];
    const users = ds.filter((d) => d.kind === 'user');
    const bothId = ds.find((d) => d.kind === 'both')!.messageId;
    const alertIds = new Set(ds.filter((d) => d.kind === 'alert').map((d) => d.messageId));
    // Requests: exactly the ones these inputs create, none lost, none twice.
    const old = new Set(before.requests.map((r) => r.id));
    const created = after.requests.filter((r) => !old.has(r.id));
    const alertRequests = created.filter((r) => r.source === source);
    // (Counts first, so that a failure says what is wrong in one line.)
    expect({ requests: after.requests.length, created: created.length, alert: alertRequests.length })
      .toEqual({ requests: before.requests.length + users.length + 2, created: users.length + 2, alert: 1 });
    const byMessage = count(created.map((r) => r.message_id));
    for (const d of users) expect([d.messageId, byMessage.get(d.messageId)]).toEqual([d.messageId, 1]);
    expect(byMessage.get(bothId)).toBe(1);
    expect(alertIds.has(alertRequests[0]!.message_id!)).toBe(true);
    expect(new Set(created.map((r) => r.id)).size).toBe(created.length);
    // Notes: the message that created a request is its first note; an alert copy matched
    // to it (unchanged) or a duplicate adds none.
    const creators = new Set(created.map((r) => r.message_id));
    const notes = count(after.notes.filter((x) => x.message_id !== null && ids.includes(x.message_id)).map((x) => x.message_id));
    expect(ids.filter((id) => (notes.get(id) ?? 0) !== (creators.has(id) ? 1 : 0))).toEqual([]);
    // The ledger: every message once (the one delivered on both hosts too), every key once.
    const ledger = after.inbound.filter((e) => e.message_id !== null && ids.includes(e.message_id));
    expect([...count(ledger.map((e) => e.message_id)).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(ledger).toHaveLength(ids.length);
    expect(new Set(after.inbound.map((e) => e.key)).size).toBe(after.inbound.length);
    expect(after.inbound).toHaveLength(before.inbound.length + ids.length);
    // In the database: (key, attempt) never needed a second attempt.
    const [n, keys, maxAttempt] = rows('SELECT count(*), count(DISTINCT key), max(attempt) FROM m4me_inbound')[0]!.split('|');
    expect({ n, keys, maxAttempt }).toEqual({ n: String(after.inbound.length), keys: String(after.inbound.length), maxAttempt: '0' });
    return { created, alertRequest: alertRequests[0]!, ledger };
  };

  test('round 1: 60 requests, 10 copies of one alert and one message on both hosts, in parallel: 62 requests', async () => {
    const before = await snapshot('before-1');
    const { stream, burst, source } = messages('r1', 60, 10);
    const t0 = performance.now();
    const { results: done, waiting } = await run(stream, burst);
    const wall = performance.now() - t0;
    const all = [...stream, ...burst];
    // The burst raced: (nearly) all of it reached the database's locks together.
    expect(waiting).toBeGreaterThanOrEqual(burst.length - 2);
    expect(failures).toEqual([]);
    expect(done).toHaveLength(all.length);
    // Every delivery acknowledged with 0 (after retries of a 75, if any; nothing was killed).
    expect(done.filter((x) => x.killed > 0 || x.exits.some((e) => e !== 0 && e !== 75))).toEqual([]);
    const ms = done.map((x) => x.ms).sort((p, q) => p - q);
    medianMs = ms[Math.floor(ms.length / 2)]!;

    const after = await snapshot('after-1');
    const { created, alertRequest, ledger } = checkStore(before, after, all, source);
    const requestOf = new Map(created.map((r) => [r.message_id, r.id]));

    // What each process said: a new request for each end-user message; the alert copies one
    // request and 'unchanged' (match.event) for the rest; the message of both hosts once
    // created, once a duplicate, naming the same request.
    for (const x of done.filter((y) => y.delivery.kind === 'user')) {
      expect([x.delivery.messageId, x.result.outcome, x.result.rule, x.result.record])
        .toEqual([x.delivery.messageId, 'request_created', 'create.new_request', { type: 'request', id: requestOf.get(x.delivery.messageId) }]);
    }
    const alerts = done.filter((x) => x.delivery.kind === 'alert');
    const alertRecord = { type: 'request', id: alertRequest.id };
    expect(alerts.filter((x) => x.result.outcome === 'request_created').map((x) => x.delivery.messageId)).toEqual([alertRequest.message_id]);
    expect(alerts.filter((x) => x.result.outcome !== 'request_created').map((x) => [x.result.outcome, x.result.rule, x.result.record]))
      .toEqual(Array.from({ length: alerts.length - 1 }, () => ['unchanged', 'match.event', alertRecord]));
    const both = done.filter((x) => x.delivery.kind === 'both');
    const bothId = both[0]!.delivery.messageId;
    expect(both.map((x) => x.result.outcome).sort()).toEqual(['duplicate', 'request_created']);
    for (const x of both) expect(x.result.record).toEqual({ type: 'request', id: requestOf.get(bothId) });
    // The ledger says what the processes said.
    for (const x of done) {
      const e = ledger.find((l) => l.message_id === x.delivery.messageId)!;
      expect([x.delivery.messageId, e.record]).toEqual([x.delivery.messageId, x.result.record]);
    }

    // Replies: one acknowledgement per request created, in the outbox of the host whose
    // process created it, nowhere else; no temporary file.
    const creators = done.filter((x) => x.result.outcome === 'request_created');
    const replies = after.auto_replies.filter((r) => r.in_reply_to !== null && all.some((d) => d.messageId === r.in_reply_to));
    expect([...count(replies.map((r) => r.in_reply_to)).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(replies.map((r) => r.in_reply_to).sort()).toEqual(creators.map((x) => x.delivery.messageId).sort());
    for (const h of HOSTS) {
      expect(outboxFiles(h).filter((f) => !f.endsWith('.eml'))).toEqual([]);
      const want = creators.filter((x) => x.delivery.host === h).map((x) => replies.find((r) => r.in_reply_to === x.delivery.messageId)!.message_id);
      expect([h, replyIds(h).sort()]).toEqual([h, want.sort()]);
    }
    const retried = done.filter((x) => x.exits.length > 1).length;
    console.info(`many-hosts round 1: ${all.length} deliveries in ${Math.round(wall)} ms, median ${Math.round(medianMs)} ms each, `
      + `${retried} retried after 75, ${waiting} of ${burst.length} at the gate`);
  }, 240_000);

  test('round 2: deliveries killed (SIGKILL) mid-flight and delivered again: nothing lost, nothing twice', async () => {
    expect(medianMs).toBeGreaterThan(0);
    const before = await snapshot('before-2');
    const repliesBefore = new Set(before.auto_replies.map((r) => r.message_id));
    const { stream, burst, source } = messages('r2', 24, 6);
    const all = [...stream, ...burst];
    // Half of the deliveries are killed: half of those at a random moment (spread over
    // 0.1–1.1 × round 1's median delivery time; a burst process has started already, so
    // its moments are shorter), a quarter once a reply is written under its temporary name,
    // a quarter once it has committed; some twice. A later attempt runs to its end.
    const plan = (span: number): Kill => {
      const r = random();
      return r < 0.5 ? { after: 'ms', ms: Math.floor(span * (0.1 + random())) } : r < 0.75 ? { after: 'temp' } : { after: 'commit' };
    };
    for (const d of all) {
      if (random() >= 0.5) continue;
      d.kills = [plan(burst.includes(d) ? 0.6 * medianMs : medianMs)];
      if (random() < 0.25) d.kills.push(plan(medianMs));
    }
    const planned = all.filter((d) => d.kills.length).length;
    expect(planned).toBeGreaterThan(5);
    const t0 = performance.now();
    const { results: done, waiting } = await run(stream, burst);
    const wall = performance.now() - t0;
    expect(failures).toEqual([]);
    expect(done).toHaveLength(all.length);
    const killed = done.filter((x) => x.killed > 0);
    // Kills that came too late (the process had exited) do not count; enough must have landed.
    expect(killed.length).toBeGreaterThan(2);
    // A delivery killed after its COMMIT was applied: its re-delivery is a duplicate.
    for (const x of done.filter((y) => y.killedAfterCommit > 0)) {
      expect([x.delivery.messageId, x.result.outcome]).toEqual([x.delivery.messageId, 'duplicate']);
    }

    // One more delivery on each host (a message it already delivered: a duplicate): it puts
    // in place, or removes, the temporary replies a killed process of that host left.
    for (const h of HOSTS) {
      const d = all.find((x) => x.host === h && x.kind === 'user') ?? all.find((x) => x.host === h)!;
      const again = await deliver({ ...d, kills: [] });
      expect([h, again.result.outcome]).toEqual([h, 'duplicate']);
    }

    const after = await snapshot('after-2');
    const { created, alertRequest } = checkStore(before, after, all, source);
    const requestOf = new Map(created.map((r) => [r.message_id, r.id]));
    // What each acknowledged run said: what it did, or, when a killed run of the same
    // message had committed already, a duplicate (never without a kill). Every end-user
    // message created its request; the copy of the alert that created the alert's request
    // says so, the other copies are matched to it (unchanged).
    const said = (x: Delivered) => [x.delivery.messageId, x.result.outcome, x.result.record];
    for (const x of done) {
      const creator = x.delivery.kind === 'alert' ? x.delivery.messageId === alertRequest.message_id : x.delivery.kind === 'user';
      const did = creator ? 'request_created' : x.delivery.kind === 'alert' ? 'unchanged' : null;
      const id = x.delivery.kind === 'alert' ? alertRequest.id : requestOf.get(x.delivery.messageId);
      const allowed = [...(did ? [did] : ['request_created', 'duplicate']), ...(x.killed ? ['duplicate'] : [])];
      expect(said(x)).toEqual([x.delivery.messageId, expect.stringMatching(new RegExp(`^(${allowed.join('|')})$`)), { type: 'request', id }]);
    }
    // The message of both hosts: created once, unless the run that created it was killed
    // after its commit; a duplicate otherwise.
    const both = done.filter((x) => x.delivery.kind === 'both');
    const bothCreated = both.filter((x) => x.result.outcome === 'request_created').length;
    expect(both.some((x) => x.killed) ? bothCreated <= 1 : bothCreated === 1).toBe(true);

    // Replies: one per request created (recorded once, whichever run committed it), each in
    // one outbox once, every file one the database recorded, no temporary file left.
    const replies = after.auto_replies.filter((r) => !repliesBefore.has(r.message_id));
    expect(replies.map((r) => r.in_reply_to).sort()).toEqual(created.map((r) => r.message_id).sort());
    const files = HOSTS.flatMap((h) => replyIds(h));
    expect([...count(files).entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(files.sort()).toEqual(after.auto_replies.map((r) => r.message_id).sort());
    for (const h of HOSTS) expect([h, outboxFiles(h).filter((f) => !f.endsWith('.eml'))]).toEqual([h, []]);
    const sum = (f: (x: Delivered) => number) => done.reduce((n, x) => n + f(x), 0);
    const committedBeforeKill = done.filter((x) => x.killed > 0 && x.result.outcome === 'duplicate').length;
    console.info(`many-hosts round 2 (seed ${SEED}): ${all.length} deliveries in ${Math.round(wall)} ms; ${planned} planned to be killed, `
      + `${killed.length} killed mid-flight (${sum((x) => x.killed)} kills, ${sum((x) => x.killedAfterCommit)} after the commit), `
      + `${committedBeforeKill} had committed, ${sum((x) => x.tempsLeft)} temporary replies left behind, ${waiting} of ${burst.length} at the gate`);
  }, 240_000);
});

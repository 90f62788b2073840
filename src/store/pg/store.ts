/**
 * `m4me process` on a PostgreSQL store (CONTRACT §7): one transaction per message.
 *
 * The engine is pure and synchronous; the database is neither. So a message is decided
 * against a MissView (./view.ts): the reference data loaded once per process, and the
 * answers fetched so far for the big collections. Every lookup it could not answer is
 * fetched (one query for all of them) and the message decided again, until a decision
 * makes no miss; decide is fast and this settles in a few rounds.
 *
 * Then, in one READ COMMITTED transaction: `pg_advisory_xact_lock` on the hash of every
 * inbound-ledger key and event-matching key (requestsByEvent, requestsBySubject) the
 * decision looked up, so two copies of one message, or two copies of one alert, are applied
 * one after the other; every lookup fetched again (the statement after the lock sees what
 * the other transaction committed); decided again (new lookups locked and fetched, new IDs
 * taken from the sequences as the decision asks for them), the rows of the Decision
 * inserted, the reply files written under temporary names and synced, COMMIT, and the
 * replies renamed into the outbox. A unique violation (the ledger's (key, attempt): another
 * host won), a deadlock, a serialization failure or a lock wait past LOCK_TIMEOUT_MS rolls
 * back and starts the message again (the retry sees the winner: `duplicate`), at most
 * RETRIES times, then 75 4.3.0.
 *
 * Why advisory locks and not SERIALIZABLE: event matching reads a set of requests by key
 * and inserts into it; SERIALIZABLE would abort one of two racing alerts only after both
 * did their work (and aborts unrelated messages on predicate-lock false positives), while
 * a lock on the key makes the second wait a few milliseconds and decide once, correctly.
 */
import { randomInt, createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import { decide } from '../../engine/pipeline.js';
import type { Clock, Decision, Policy } from '../../engine/types.js';
import type { InboundEmail } from '../../mail/types.js';
import { finalName, folderMode, isTempName, makeDurable, syncDir, type TempFile, writeTemp } from '../durable.js';
import { logLine } from '../delivery-log.js';
import { describeIoError, ioStatus, ioWhere, TempFailure } from '../errors.js';
import { RESIDENT, StoreIndex } from '../indexes.js';
import type { DeliverOptions, MailStore } from '../mail-store.js';
import { outboxFileName, outboxMessageId, renderOutgoing } from '../outbox.js';
import { ARRAY_COLLECTIONS, type Person, type StoreData } from '../schema.js';
import { collectionProblems } from '../validate.js';
import { openPool, pgFailure, type PgDb } from './connect.js';
import { type Collection, lower, tableOf } from './rows.js';
import { checkSchema } from './schema.js';
import { type IdKind, type Lookup, lookupKey, MissView } from './view.js';

/** Decision rounds before giving up (decide settles in 2–4). */
const MAX_ROUNDS = 24;
/** Retries of a message's transaction after a conflict. */
const RETRIES = 8;
/** How long a transaction waits for a lock before it is retried. */
const LOCK_TIMEOUT_MS = Number(process.env.M4ME_PG_LOCK_TIMEOUT_MS) || 10_000;
/** Where notes name attachment files when the store never said (the default store's). */
const DEFAULT_FILES_DIR = 'm4me-store.json.files';

const SEQUENCE: Record<IdKind, string> = { record: 'm4me_record_id_seq', note: 'm4me_note_id_seq', person: 'm4me_person_id_seq' };
/** SQLSTATEs after which the message is tried again: unique violation, serialization, deadlock, lock timeout. */
const RETRY_STATES = new Set(['23505', '40001', '40P01', '55P03']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A signed 64-bit advisory lock key for a lookup (namespaced by kind). */
function lockKey(l: Lookup): string | null {
  if (l.kind !== 'inbound' && l.kind !== 'event' && l.kind !== 'subject') return null;
  return hashLock(`${l.kind} ${l.key}`);
}

function hashLock(what: string): string {
  return createHash('sha256').update(`m4me ${what}`).digest().readBigInt64BE(0).toString();
}

export class PgStore implements MailStore {
  private ref!: StoreIndex;
  private provisional!: Record<IdKind, number>;
  /** Top-level names of the document, and whether copy-store would write it compact. */
  private names = new Set<string>();
  private compact = true;
  filesDir: string = DEFAULT_FILES_DIR;
  lastTimes = { decide: 0, store: 0 };

  private constructor(private db: PgDb, private outbox: string, private dryRun: boolean) {}

  static async open(url: string, opts: { outbox: string; dryRun: boolean }): Promise<PgStore> {
    const db = await openPool(url, { max: 2 });
    const store = new PgStore(db, opts.outbox, opts.dryRun);
    try {
      await checkSchema(db);
      await store.load();
      if (!opts.dryRun) await store.recover();
    } catch (err) {
      await db.close();
      throw pgFailure(err, url);
    }
    return store;
  }

  /** Runs `fn` on one connection; a connection that failed is not given back to the pool. */
  private async client<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.db.pool.connect();
    const onError = () => undefined;
    c.on('error', onError);
    let broken = false;
    try {
      return await fn(c);
    } catch (err) {
      const code = (err as { code?: string })?.code;
      broken = !code || /^(08|57)/.test(code);
      throw err;
    } finally {
      c.off('error', onError);
      c.release(broken);
    }
  }

  /** The reference collections (resident), the document's names and layout, the ID allocators. */
  private async load(): Promise<void> {
    await this.client(async (c) => {
      const data: Record<string, unknown[]> = {};
      for (const col of ARRAY_COLLECTIONS) data[col] = [];
      for (const col of RESIDENT) {
        const spec = tableOf(col);
        data[col] = (await c.query<{ doc: unknown }>(`SELECT doc FROM ${spec.table} ORDER BY pos`)).rows.map((r) => r.doc);
      }
      const problems: string[] = [];
      for (const col of RESIDENT) problems.push(...collectionProblems(col, data[col] as Record<string, unknown>[], 5 - problems.length));
      if (problems.length) throw new TempFailure('4.3.5', `store ${this.db.label} is not an m4me store: ${problems.join('; ')}`);
      this.ref = new StoreIndex(data as unknown as StoreData);
      const meta = await c.query<{ key: string; value: string }>('SELECT key, value FROM m4me_meta');
      for (const m of meta.rows) {
        if (m.key === 'file_layout') this.compact = m.value === 'compact';
        if (m.key === 'files_dir') this.filesDir = m.value;
      }
      const names = await c.query<{ name: string }>('SELECT name FROM m4me_document');
      this.names = new Set(names.rows.map((r) => r.name));
      const seq = await c.query<{ r: string; n: string; p: string }>(
        `SELECT (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM m4me_record_id_seq) AS r,
                (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM m4me_note_id_seq) AS n,
                (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM m4me_person_id_seq) AS p`);
      const s = seq.rows[0]!;
      this.provisional = { record: Number(s.r), note: Number(s.n), person: Number(s.p) };
    });
  }

  /**
   * Reply files a killed m4me of this host left under temporary names (between its reply
   * writes and its renames): put in place when the store records the reply (the commit
   * came), else removed. Only those of processes that are gone: others may be committing.
   */
  private async recover(): Promise<void> {
    let names: string[];
    try { names = readdirSync(this.outbox); } catch { return; }
    const left = names.filter((n) => isTempName(n) && finalName(n).endsWith('.eml') && !alive(pidOf(n)));
    if (!left.length) return;
    await this.client(async (c) => {
      for (const n of left) {
        const path = join(this.outbox, n);
        const id = messageIdOf(path);
        const known = id !== null && (await c.query(`SELECT 1 FROM m4me_auto_replies WHERE doc->>'message_id' = $1 LIMIT 1`, [id])).rowCount;
        try {
          if (known) renameSync(path, finalName(path)); else unlinkSync(path);
        } catch { /* another process recovered it */ }
      }
    });
    try { syncDir(this.outbox); } catch { /* best effort */ }
  }

  teamName(id: number): string | undefined { return this.ref.team(id)?.name; }

  async commit(): Promise<void> { /* every message committed in deliver */ }

  async close(): Promise<void> { await this.db.close(); }

  async deliver(email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    const p = { ...policy, filesDir: this.filesDir };
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.client((c) => this.attempt(c, email, p, clock, opts.persist && !this.dryRun, opts));
      } catch (err) {
        const code = (err as { code?: string })?.code ?? '';
        if (RETRY_STATES.has(code) && attempt < RETRIES) {
          // A person another process created (unique id) is in the reference data after a reload.
          if (code === '23505') await this.load().catch(() => undefined);
          await sleep(randomInt(5, 20 + 20 * attempt));
          continue;
        }
        if (err instanceof TempFailure) throw pgFailure(err, this.db.url);
        const f = pgFailure(err, this.db.url);
        throw RETRY_STATES.has(code) ? new TempFailure(f.status, `${f.message} (gave up after ${RETRIES} retries)`) : f;
      }
    }
  }

  /** Decides (and, with `persist`, applies in one transaction) one message for one recipient. */
  private async attempt(c: pg.PoolClient, email: InboundEmail, policy: Policy, clock: Clock, persist: boolean, opts: DeliverOptions): Promise<Decision> {
    const view = new MissView(this.ref, this.provisional);
    let decideMs = 0;
    const t0 = performance.now();
    const run = () => {
      const t = performance.now();
      try { return decide(email, view, policy, clock); } finally { decideMs += performance.now() - t; }
    };
    const times = () => { this.lastTimes = { decide: decideMs, store: performance.now() - t0 - decideMs }; };
    let decision = await this.settle(c, view, run, false);
    if (!persist) { times(); decision.warnings.push(...(opts.warnings ?? [])); return decision; }
    const temps: TempFile[] = [];
    let committed = false;
    let committing = false;
    await c.query('BEGIN');
    try {
      await c.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
      const locked = new Set<string>();
      await this.lock(c, [...view.asked.values()], locked);
      // Everything again, as committed now: what another host applied while we waited.
      const all = [...view.asked.values()];
      view.answers.clear();
      await this.fetch(c, view, all);
      decision = await this.settle(c, view, run, true, locked);
      // A person for an unknown sender: another host may be creating one for the same
      // address. Under a lock on the address, one it committed is found and used instead.
      while (decision.person) {
        const email = lower(decision.person.primary_email);
        await this.lockKeys(c, [hashLock(`person ${email}`)], locked);
        const found = await c.query<{ doc: Person }>('SELECT doc FROM m4me_people WHERE primary_email = $1 OR $1 = ANY (emails) ORDER BY pos', [email]);
        const fresh = found.rows.map((r) => r.doc).filter((p) => !this.ref.person(p.id));
        if (!fresh.length) break;
        for (const p of fresh) this.ref.addPerson(p);
        decision = await this.settle(c, view, run, true, locked);
      }
      decision.warnings.push(...(opts.warnings ?? []));
      await this.write(c, decision, view);
      const line = opts.about ? logLine(decision, opts.about) : null;
      if (line && decision.inbound) {
        await c.query('INSERT INTO m4me_delivery_log (key, at, line) VALUES ($1, $2, $3)', [decision.inbound.key, decision.inbound.received_at, line.trimEnd()]);
      }
      if (decision.outgoing.length) {
        const made = mkdirSync(this.outbox, { recursive: true, mode: folderMode() });
        try {
          for (const m of decision.outgoing) temps.push(writeTemp(join(this.outbox, outboxFileName(m)), renderOutgoing(m)));
          const dirs = new Set<string>();
          if (made) for (let d = this.outbox; d.length >= made.length; d = dirname(d)) dirs.add(dirname(d));
          await makeDurable(temps, dirs, () => undefined);
        } catch (err) {
          throw new TempFailure(ioStatus(err), `cannot write beside store ${this.db.label}: ${ioWhere(err)}${describeIoError(err)}`);
        }
      }
      committing = true;
      await c.query('COMMIT');
      committed = true;
    } catch (err) {
      if (!committed) {
        await c.query('ROLLBACK').catch(() => undefined);
        // A COMMIT that failed (the connection lost) may still have committed: its replies
        // stay under their temporary names for the next run to put in place or remove
        // (recover, by what auto_replies holds, once this process is gone).
        if (!committing) for (const t of temps) { try { unlinkSync(t.tmp); } catch { /* gone */ } }
      }
      throw err;
    }
    // Committed: the replies go in place (a failure here is recovered by the next run).
    try {
      for (const t of temps) renameSync(t.tmp, t.path);
      if (temps.length) syncDir(this.outbox);
    } catch { /* recover() */ }
    if (decision.person) this.ref.addPerson(decision.person);
    this.provisional = {
      record: Math.max(this.provisional.record, (decision.request?.id ?? 0) + 1),
      note: Math.max(this.provisional.note, (decision.note?.id ?? 0) + 1),
      person: Math.max(this.provisional.person, (decision.person?.id ?? 0) + 1),
    };
    times();
    return decision;
  }

  /**
   * Decides until a decision makes no miss: each round fetches what the last one missed (in
   * a transaction: locking the lock keys among them first, and taking the new IDs it asked for).
   */
  private async settle(c: pg.PoolClient, view: MissView, run: () => Decision, inTx: boolean, locked?: Set<string>): Promise<Decision> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      view.round();
      const decision = run();
      const misses = [...view.misses.values()];
      // New IDs only once nothing else is missing, and only those the decision uses: the
      // engine builds a request before event matching may make it a note, and a sequence
      // value taken is never given back (the JSON store's IDs would run ahead of ours).
      const uses: Record<IdKind, unknown> = { record: decision.request, note: decision.note, person: decision.person };
      const ids = inTx && !misses.length ? [...view.idMisses].filter((k) => uses[k]) : [];
      if (!misses.length && !ids.length) return decision;
      if (inTx && misses.length) await this.lock(c, misses, locked!);
      if (misses.length) await this.fetch(c, view, misses);
      for (const kind of ids) {
        const r = await c.query<{ v: string }>(`SELECT nextval('${SEQUENCE[kind]}') AS v`);
        view.ids.set(kind, Number(r.rows[0]!.v));
      }
    }
    throw new TempFailure('4.3.0', `store ${this.db.label}: the decision did not settle after ${MAX_ROUNDS} rounds of lookups`);
  }

  /** Takes the advisory locks of `lookups` not yet held, in key order (one statement). */
  private lock(c: pg.PoolClient, lookups: Lookup[], locked: Set<string>): Promise<void> {
    return this.lockKeys(c, lookups.map(lockKey).filter((k): k is string => k !== null), locked);
  }

  private async lockKeys(c: pg.PoolClient, wanted: string[], locked: Set<string>): Promise<void> {
    const keys = [...new Set(wanted.filter((k) => !locked.has(k)))]
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    if (!keys.length) return;
    await c.query('SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) s', [keys]);
    for (const k of keys) locked.add(k);
  }

  /** Fetches the answers of `lookups` into the view, in one query. */
  private async fetch(c: pg.PoolClient, view: MissView, lookups: Lookup[]): Promise<void> {
    if (!lookups.length) return;
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
    const list = (from: string, where: string) => `(SELECT coalesce(json_agg(doc ORDER BY pos), '[]'::json) FROM ${from} WHERE ${where})`;
    const cols = lookups.map((l, i) => {
      let sql: string;
      switch (l.kind) {
        case 'record': sql = `(SELECT doc FROM m4me_records WHERE type = ${p(l.type)}::text AND id = ${p(l.id)}::bigint)`; break;
        case 'source': sql = list('m4me_records', `type = ${p(l.type)}::text AND source = ${p(l.source)}::text AND source_id = ${p(l.sourceID)}::text`); break;
        case 'notification': sql = `(SELECT doc FROM m4me_notifications WHERE message_id = ${p(l.messageId)}::text ORDER BY pos DESC LIMIT 1)`; break;
        case 'message': {
          const m = p(l.messageId);
          sql = `json_build_array((SELECT json_build_object('type', type, 'id', id) FROM m4me_records WHERE type = 'request' AND message_id = ${m}::text ORDER BY pos DESC LIMIT 1),
            (SELECT doc->'record' FROM m4me_notes WHERE message_id = ${m}::text AND record_type = 'request' ORDER BY pos LIMIT 1))`;
          break;
        }
        case 'notes': sql = list('m4me_notes', `record_type = ${p(l.type)}::text AND record_id = ${p(l.id)}::bigint`); break;
        case 'inbound': {
          const k = p(l.key);
          sql = `json_build_array((SELECT doc FROM m4me_inbound WHERE key = ${k}::text ORDER BY pos DESC LIMIT 1), (SELECT count(*) FROM m4me_inbound WHERE key = ${k}::text))`;
          break;
        }
        case 'event': sql = list('m4me_records', `type = 'request' AND event_key = ${p(l.key)}::text`); break;
        case 'subject': sql = list('m4me_records', `type = 'request' AND subject_key = ${p(l.key)}::text`); break;
        case 'replies': sql = `(SELECT count(*) FROM m4me_auto_replies WHERE recipient = ${p(l.address)}::text AND day = ${p(l.day)}::text)`; break;
      }
      return `${sql} AS c${i}`;
    });
    const r = await c.query<Record<string, unknown>>(`SELECT ${cols.join(', ')}`, params);
    const row = r.rows[0]!;
    lookups.forEach((l, i) => {
      let v = row[`c${i}`];
      if (l.kind === 'replies') v = Number(v);
      else if (l.kind === 'inbound') {
        const [entry, count] = v as [unknown, number | string];
        view.ledgerCounts.set(l.key, Number(count));
        v = entry;
      }
      else if (l.kind === 'message') {
        const [req, note] = v as [{ type: string; id: string | number } | null, unknown];
        v = req ? { type: 'request', id: Number(req.id) } : note ?? null;
      }
      view.answers.set(lookupKey(l), v ?? null);
    });
  }

  /** Inserts one row of a collection, its lookup columns computed as copy-store does. */
  private async insert(c: pg.PoolClient, collection: Collection, row: object, attempt = 0): Promise<void> {
    const spec = tableOf(collection);
    const values = spec.values(row as Record<string, unknown>);
    const params: unknown[] = [];
    const exprs = spec.columns.map((col, i) => {
      // The n-th ledger entry of a key is attempt n, n as many as the decision saw: (key,
      // attempt) is unique, so of two hosts that both decided on a key's first entry, one fails.
      params.push(collection === 'inbound' && col === 'attempt' ? attempt : values[i]);
      return `$${params.length}`;
    });
    params.push(JSON.stringify(row));
    await c.query(`INSERT INTO ${spec.table} (${[...spec.columns, 'doc'].join(', ')}) VALUES (${[...exprs, `$${params.length}`].join(', ')})`, params);
  }

  /** The rows of a Decision, in the order the JSON store applies them. */
  private async write(c: pg.PoolClient, d: Decision, view: MissView): Promise<void> {
    if (d.person) await this.insert(c, 'people', d.person);
    if (d.request) await this.insert(c, 'requests', d.request);
    if (d.note) await this.insert(c, 'notes', d.note);
    // A note updates its record's `updated_at`, as the platform does (and the JSON store).
    if (d.note && d.record) {
      const r = await c.query<{ doc: string }>('SELECT doc::text AS doc FROM m4me_records WHERE type = $1 AND id = $2 FOR UPDATE', [d.record.type, d.record.id]);
      const text = r.rows[0]?.doc;
      if (text !== undefined) {
        const rec = JSON.parse(text) as Record<string, unknown>;
        if ('updated_at' in rec) {
          rec.updated_at = d.note.created_at;
          await c.query('UPDATE m4me_records SET doc = $3 WHERE type = $1 AND id = $2', [d.record.type, d.record.id, JSON.stringify(rec)]);
        }
      }
    }
    for (const n of d.notifications) await this.insert(c, 'notifications', n);
    for (const m of d.outgoing) {
      await this.insert(c, 'auto_replies', { message_id: m.messageId, to: m.to, kind: m.kind, sent_at: m.date, in_reply_to: m.inReplyTo });
    }
    if (d.inbound) await this.insert(c, 'inbound', d.inbound, view.ledgerCounts.get(d.inbound.key) ?? 0);
    for (const f of d.files) {
      await c.query('INSERT INTO m4me_attachments (sha256, size, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [f.sha256, f.content.length, f.content]);
    }
    // The file store writes every collection, compact, once it has processed a message:
    // so does the document a copy-store of this store gives.
    const missing = ARRAY_COLLECTIONS.filter((n) => !this.names.has(n));
    if (missing.length) {
      await c.query(`INSERT INTO m4me_document (position, name, value)
        SELECT (SELECT coalesce(max(position), 0) FROM m4me_document) + o, n, NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(n, o)
        WHERE NOT EXISTS (SELECT 1 FROM m4me_document d WHERE d.name = u.n) ORDER BY o
        ON CONFLICT DO NOTHING`, [missing]);
      for (const n of missing) this.names.add(n);
    }
    if (!this.compact) {
      await c.query(`INSERT INTO m4me_meta (key, value) VALUES ('file_layout', 'compact') ON CONFLICT (key) DO UPDATE SET value = 'compact'`);
      this.compact = true;
    }
  }
}

/** The pid in a temporary name (`<name>.<pid>-<random>-<n>.tmp`). */
function pidOf(name: string): number {
  return Number(/\.(\d+)-[0-9a-f]{8}-\d+\.tmp$/.exec(name)?.[1] ?? 0);
}

function alive(pid: number): boolean {
  if (!pid) return false;
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The Message-ID of a leftover reply file; null when it cannot be read. */
function messageIdOf(path: string): string | null {
  try { return outboxMessageId(path); } catch { return null; }
}

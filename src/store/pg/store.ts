/**
 * `m4me process` on a PostgreSQL store (CONTRACT §7): a batch of messages per transaction.
 *
 * The engine is pure and synchronous; the database is neither. So a message is decided
 * against a MissView (./view.ts): the reference data loaded once per process, and the
 * answers fetched so far for the big collections. Every lookup it could not answer is
 * fetched (one query for all of them) and the message decided again, until a decision
 * makes no miss; decide is fast and this settles in a few rounds.
 *
 * Each message is applied inside the open transaction, in a savepoint of its own: before
 * each fetch, `pg_advisory_xact_lock` on the hash of every inbound-ledger key and
 * event-matching key (requestsByEvent, requestsBySubject) among the lookups, so two copies
 * of one message, or two copies of one alert, are applied one after the other (the fetch
 * after the lock sees what the other transaction committed); new IDs taken from the
 * sequences as the decision asks for them; the rows of the Decision inserted; the reply
 * files written under temporary names. `commit` (a single delivery's end, a batch's
 * checkpoint, serve's answer), BATCH_MESSAGES messages or BATCH_MS of age sync the reply
 * files, COMMIT, and rename the replies into the outbox: one durable commit for the batch,
 * atomic as a whole; a re-run after a failure is exact because the ledger holds what
 * committed. Results are printed only after that commit (process.ts).
 *
 * A unique violation (the ledger's (key, attempt): another host won), a deadlock, or a lock
 * wait past LOCK_TIMEOUT_MS rolls back that message's savepoint, commits the batch so far
 * (its locks may be what the other side waits for) and starts the message again in a new
 * transaction (the retry sees the winner: `duplicate`), at most RETRIES times, then 75 4.3.0.
 * A transaction lost as a whole (the connection, the COMMIT) loses its batch: the run fails
 * with 75 before printing any of it, and the MTA's retry is exact.
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
import { type Collection, lower, pgParam, tableOf } from './rows.js';
import { checkSchema } from './schema.js';
import { WRITER_AFTER, WriterThread } from '../writer.js';
import { type IdKind, type Lookup, lookupKey, MissView } from './view.js';

/** Decision rounds before giving up (decide settles in 2–4). */
const MAX_ROUNDS = 24;
/** Retries of a message's transaction after a conflict. */
const RETRIES = 8;
/**
 * Messages per transaction at most. Each is a savepoint (a subtransaction), and past 64 of
 * them in one transaction every other session's snapshot checks slow down (PostgreSQL's
 * subtransaction cache overflows); one commit per 48 messages already makes its cost small.
 */
const BATCH_MESSAGES = 48;
/** A batch is committed once it is this old (ms): its locks are held no longer, idle or not. */
const BATCH_MS = 250;
/** How long a transaction waits for a lock before it is retried. */
const LOCK_TIMEOUT_MS = Number(process.env.M4ME_PG_LOCK_TIMEOUT_MS) || 10_000;
/** Where notes name attachment files when the store never said (the default store's). */
const DEFAULT_FILES_DIR = 'm4me-store.json.files';

const SEQUENCE: Record<IdKind, string> = { record: 'm4me_record_id_seq', note: 'm4me_note_id_seq', person: 'm4me_person_id_seq' };
/** SQLSTATEs after which the message is tried again: unique violation, serialization, deadlock, lock timeout. */
const RETRY_STATES = new Set(['23505', '40001', '40P01', '55P03']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A statement prepared once per connection (named by its text): fetches and writes come in a
 * few dozen shapes, and planning them again for every message cost as much server time as
 * running them (pg_stat_statements: 0.85 s of planning, 0.77 s of execution, 2,000 messages).
 */
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  return { name: `m4me_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`, text, values };
}

/** A signed 64-bit advisory lock key for a lookup (namespaced by kind). */
function lockKey(l: Lookup): string | null {
  if (l.kind !== 'inbound' && l.kind !== 'event' && l.kind !== 'subject') return null;
  return hashLock(`${l.kind} ${l.key}`);
}

function hashLock(what: string): string {
  return createHash('sha256').update(`m4me ${what}`).digest().readBigInt64BE(0).toString();
}

/** One message's way through its savepoint. */
interface Step {
  /** SQL still to send before the message's first statement (its savepoint). */
  prefix: string | null;
  /** Provisional IDs used and checked by the write, instead of taken one by one first. */
  optimistic: boolean;
}

/** The open transaction of a batch. */
interface Batch {
  client: pg.PoolClient;
  /** Gives the connection back to the pool (`broken`: closed instead). */
  release(broken?: boolean): void;
  opened: number;
  /** Messages applied in it. */
  messages: number;
  /** Advisory lock keys it holds. */
  locked: Set<string>;
  /** Reply files written for it, under temporary names. */
  temps: TempFile[];
  /** Folders it made, whose parents must be synced. */
  dirs: Set<string>;
  timer: NodeJS.Timeout;
}

export class PgStore implements MailStore {
  private ref!: StoreIndex;
  private provisional!: Record<IdKind, number>;
  /** Top-level names of the document, and whether copy-store would write it compact. */
  private names = new Set<string>();
  private compact = true;
  filesDir: string = DEFAULT_FILES_DIR;
  lastTimes = { decide: 0, store: 0 };
  private batch: Batch | null = null;
  /** m4me_meta's reference_version when the reference data was loaded (import counts it up). */
  private referenceVersion: string | null = null;
  /** Another host took an ID this process thought next: IDs are taken one by one from now on. */
  private sharedIds = false;
  /** Creates a batch's reply files (../writer.ts), from the run's fifth reply on. */
  private writer: WriterThread | null = null;
  private repliesWritten = 0;
  /**
   * A batch lost as a whole (its COMMIT, its connection) whose messages were delivered
   * (their decisions returned): the next `commit` fails with it, so none of them is
   * reported as done (process prints nothing of them, serve answers none with 250).
   */
  private lost: TempFailure | null = null;
  /** deliver, commit and the batch timer, one after the other. */
  private chain: Promise<unknown> = Promise.resolve();

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
      this.referenceVersion = null;
      for (const m of meta.rows) {
        if (m.key === 'file_layout') this.compact = m.value === 'compact';
        if (m.key === 'files_dir') this.filesDir = m.value;
        if (m.key === 'reference_version') this.referenceVersion = m.value;
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

  async commit(): Promise<void> {
    await this.serial(async () => {
      this.told();
      await this.commitBatch();
    });
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (this.batch) await this.abandon(this.batch);
    });
    await this.writer?.close().catch(() => undefined);
    this.writer = null;
    await this.db.close();
  }

  /** Throws (once) the loss of a batch since the last commit. */
  private told(): void {
    const lost = this.lost;
    this.lost = null;
    if (lost) throw lost;
  }

  /** Commits the batch where the caller is not the one to report a failure: the next commit does. */
  private async commitQuietly(): Promise<void> {
    try { await this.commitBatch(); } catch (err) { this.lost ??= err as TempFailure; }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async deliver(email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    const p = { ...policy, filesDir: this.filesDir };
    if (!opts.persist || this.dryRun) {
      try {
        return await this.client((c) => this.decideOnly(c, email, p, clock, opts));
      } catch (err) { throw pgFailure(err, this.db.url); }
    }
    return this.serial(() => this.apply(email, p, clock, opts));
  }

  /** A dry run: decided against what is committed, nothing locked or written. */
  private async decideOnly(c: pg.PoolClient, email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    const view = new MissView(this.ref, this.provisional);
    const t0 = performance.now();
    let decideMs = 0;
    const decision = await this.settle(c, view, () => {
      const t = performance.now();
      try { return decide(email, view, policy, clock); } finally { decideMs += performance.now() - t; }
    }, null);
    decision.warnings.push(...(opts.warnings ?? []));
    this.lastTimes = { decide: decideMs, store: performance.now() - t0 - decideMs };
    return decision;
  }

  /** Applies one message in the batch's transaction (opening one), retrying after conflicts. */
  private async apply(email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    for (let attempt = 0; ; attempt++) {
      if (this.batch && performance.now() - this.batch.opened > BATCH_MS) await this.commitQuietly();
      let batch: Batch;
      try {
        batch = this.batch ?? await this.begin();
      } catch (err) { throw pgFailure(err, this.db.url); }
      const names = new Set(this.names);
      const compact = this.compact;
      const temps = batch.temps.length;
      let decision: Decision;
      try {
        decision = await this.attempt(batch, email, policy, clock, opts);
      } catch (err) {
        // This message is undone: its reply files, what it told the document, its savepoint.
        await this.removeFiles(batch.temps.splice(temps));
        this.names = names;
        this.compact = compact;
        const code = (err as { code?: string })?.code ?? '';
        const undone = !/^(08|57)/.test(code) && await batch.client.query('ROLLBACK TO SAVEPOINT m').then(() => true, () => false);
        if (!undone) {
          // The transaction is gone, and with it every message of the batch before this one.
          const f = pgFailure(err, this.db.url);
          await this.abandon(batch);
          if (batch.messages) {
            this.lost ??= new TempFailure(f.status, `${f.message} (${batch.messages} messages delivered before were rolled back)`);
            throw f;
          }
          if (RETRY_STATES.has(code) && attempt < RETRIES) { await sleep(randomInt(5, 20 + 20 * attempt)); continue; }
          throw f;
        }
        if (code === '22012' && attempt < RETRIES) {
          // The write's check: another host took an ID this message used. Taken one by one now.
          this.sharedIds = true;
          continue;
        }
        if (RETRY_STATES.has(code) && attempt < RETRIES) {
          // The other side may be waiting for a lock this batch holds: commit what it has.
          await this.commitQuietly();
          // A person another process created (unique id) is in the reference data after a reload.
          if (code === '23505') await this.load().catch(() => undefined);
          await sleep(randomInt(5, 20 + 20 * attempt));
          continue;
        }
        if (err instanceof TempFailure) throw pgFailure(err, this.db.url);
        const f = pgFailure(err, this.db.url);
        throw RETRY_STATES.has(code) ? new TempFailure(f.status, `${f.message} (gave up after ${RETRIES} retries)`) : f;
      }
      // The next call reports a failure of this commit: this message's result is not printed before.
      if (batch.messages >= BATCH_MESSAGES) await this.commitQuietly();
      return decision;
    }
  }

  /** Opens the batch's transaction (and its timer: an idle batch is committed, not left holding locks). */
  private async begin(): Promise<Batch> {
    const client = await this.db.pool.connect();
    // A connection lost while in use emits 'error' on the client: the pending query rejects.
    const onError = () => undefined;
    client.on('error', onError);
    const release = (broken = false) => { client.off('error', onError); client.release(broken); };
    try {
      // The reference data's version in the same round trip: an import since it was loaded
      // (people, teams, …) is loaded before this batch decides anything.
      const r = await client.query(`BEGIN; SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}; SELECT value FROM m4me_meta WHERE key = 'reference_version'`) as unknown as pg.QueryResult<{ value: string }>[];
      if ((r[2]?.rows[0]?.value ?? null) !== this.referenceVersion) await this.load();
    } catch (err) {
      release(true);
      throw err;
    }
    const timer = setTimeout(() => {
      this.serial(() => this.commitQuietly()).catch(() => undefined);
    }, BATCH_MS);
    timer.unref();
    this.batch = { client, release, opened: performance.now(), messages: 0, locked: new Set(), temps: [], dirs: new Set(), timer };
    return this.batch;
  }

  /** Ends a batch without committing it: rolled back, its reply files removed, what this process knew reloaded. */
  private async abandon(batch: Batch): Promise<void> {
    if (this.batch === batch) this.batch = null;
    clearTimeout(batch.timer);
    await batch.client.query('ROLLBACK').catch(() => undefined);
    batch.release(true);
    await this.removeFiles(batch.temps);
    if (batch.messages) await this.load().catch(() => undefined);
  }

  /** Removes reply files of changes that were rolled back (the writer thread's once written). */
  private async removeFiles(temps: TempFile[]): Promise<void> {
    if (temps.length && this.writer) await this.writer.flush().catch(() => undefined);
    for (const t of temps) { try { unlinkSync(t.tmp); } catch { /* gone */ } }
  }

  /** Commits the batch: its reply files synced, COMMIT, the replies renamed into place. */
  private async commitBatch(): Promise<void> {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    clearTimeout(batch.timer);
    if (!batch.messages) {
      await batch.client.query('ROLLBACK').then(() => batch.release(), () => batch.release(true));
      return;
    }
    let committing = false;
    try {
      if (batch.temps.length) {
        try {
          await this.writer?.flush();
          await makeDurable(batch.temps, batch.dirs, () => undefined, { syncfs: false, together: true });
        } catch (err) {
          throw new TempFailure(ioStatus(err), `cannot write beside store ${this.db.label}: ${ioWhere(err)}${describeIoError(err)}`);
        }
      }
      committing = true;
      await batch.client.query('COMMIT');
    } catch (err) {
      // A COMMIT that failed (the connection lost) may still have committed: its replies
      // stay under their temporary names for the next run to put in place or remove
      // (recover, by what auto_replies holds, once this process is gone).
      if (committing) batch.temps.length = 0;
      await this.abandon(batch);
      throw pgFailure(err, this.db.url);
    }
    batch.release();
    // Committed: the replies go in place (a failure here is recovered by the next run).
    try {
      for (const t of batch.temps) renameSync(t.tmp, t.path);
      if (batch.temps.length) syncDir(this.outbox);
    } catch { /* recover() */ }
  }

  /** Decides and applies one message for one recipient in the batch's transaction, in a savepoint. */
  private async attempt(batch: Batch, email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    const c = batch.client;
    const view = new MissView(this.ref, this.provisional);
    let decideMs = 0;
    const t0 = performance.now();
    const run = () => {
      const t = performance.now();
      try { return decide(email, view, policy, clock); } finally { decideMs += performance.now() - t; }
    };
    // The savepoint of the message before is released (kept in the transaction) as this one
    // starts, in the same round trip as its first locks.
    const step: Step = { prefix: batch.messages ? 'RELEASE SAVEPOINT m; SAVEPOINT m' : 'SAVEPOINT m', optimistic: !this.sharedIds };
    // Locks taken in this savepoint are given back if it is rolled back.
    const locked = new Set(batch.locked);
    let decision = await this.settle(c, view, run, step, locked);
    // A person for an unknown sender: another host may be creating one for the same
    // address. Under a lock on the address, one it committed is found and used instead.
    while (decision.person) {
      const address = lower(decision.person.primary_email);
      await this.lockKeys(c, [hashLock(`person ${address}`)], locked, step);
      const found = await c.query<{ doc: Person }>('SELECT doc FROM m4me_people WHERE primary_email = $1 OR $1 = ANY (emails) ORDER BY pos', [address]);
      const fresh = found.rows.map((r) => r.doc).filter((p) => !this.ref.person(p.id));
      if (!fresh.length) break;
      for (const p of fresh) this.ref.addPerson(p);
      decision = await this.settle(c, view, run, step, locked);
    }
    if (step.prefix) await this.lockKeys(c, [], locked, step);
    decision.warnings.push(...(opts.warnings ?? []));
    const uses: Record<IdKind, number | undefined> = { record: decision.request?.id, note: decision.note?.id, person: decision.person?.id };
    const check: Partial<Record<IdKind, number>> = {};
    if (step.optimistic) for (const k of view.idMisses) if (uses[k] !== undefined) check[k] = uses[k];
    const line = opts.about ? logLine(decision, opts.about)?.trimEnd() ?? null : null;
    await this.write(c, decision, view, check, line);
    if (decision.outgoing.length) {
      try {
        const made = mkdirSync(this.outbox, { recursive: true, mode: folderMode() });
        if (made) for (let d = this.outbox; d.length >= made.length; d = dirname(d)) batch.dirs.add(dirname(d));
        for (const m of decision.outgoing) {
          const path = join(this.outbox, outboxFileName(m));
          batch.temps.push(++this.repliesWritten > WRITER_AFTER ? (this.writer ??= new WriterThread()).write(path, renderOutgoing(m)) : writeTemp(path, renderOutgoing(m)));
        }
      } catch (err) {
        throw new TempFailure(ioStatus(err), `cannot write beside store ${this.db.label}: ${ioWhere(err)}${describeIoError(err)}`);
      }
      batch.dirs.add(this.outbox);
    }
    for (const k of locked) batch.locked.add(k);
    batch.messages++;
    if (decision.person) this.ref.addPerson(decision.person);
    this.provisional = {
      record: Math.max(this.provisional.record, (decision.request?.id ?? 0) + 1),
      note: Math.max(this.provisional.note, (decision.note?.id ?? 0) + 1),
      person: Math.max(this.provisional.person, (decision.person?.id ?? 0) + 1),
    };
    this.lastTimes = { decide: decideMs, store: performance.now() - t0 - decideMs };
    return decision;
  }

  /**
   * Decides until a decision makes no miss: each round fetches what the last one missed (in
   * a transaction: locking the lock keys among them first, and taking the new IDs it asked for).
   */
  private async settle(c: pg.PoolClient, view: MissView, run: () => Decision, step: Step | null, locked?: Set<string>): Promise<Decision> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      view.round();
      const decision = run();
      const misses = [...view.misses.values()];
      // New IDs only once nothing else is missing, and only those the decision uses: the
      // engine builds a request before event matching may make it a note, and a sequence
      // value taken is never given back (the JSON store's IDs would run ahead of ours).
      // Optimistic: the provisional IDs are used, and taken (checked) by the write.
      const uses: Record<IdKind, unknown> = { record: decision.request, note: decision.note, person: decision.person };
      const ids = step && !step.optimistic && !misses.length ? [...view.idMisses].filter((k) => uses[k]) : [];
      if (!misses.length && !ids.length) return decision;
      if (step && misses.length) await this.lock(c, misses, locked!, step);
      if (misses.length) await this.fetch(c, view, misses);
      for (const kind of ids) {
        const r = await c.query<{ v: string }>(`SELECT nextval('${SEQUENCE[kind]}') AS v`);
        view.ids.set(kind, Number(r.rows[0]!.v));
      }
    }
    throw new TempFailure('4.3.0', `store ${this.db.label}: the decision did not settle after ${MAX_ROUNDS} rounds of lookups`);
  }

  /** Takes the advisory locks of `lookups` not yet held, in key order (one statement). */
  private lock(c: pg.PoolClient, lookups: Lookup[], locked: Set<string>, step: Step): Promise<void> {
    return this.lockKeys(c, lookups.map(lockKey).filter((k): k is string => k !== null), locked, step);
  }

  /** Takes advisory locks not yet held, in key order; the step's first statements go in the same round trip. */
  private async lockKeys(c: pg.PoolClient, wanted: string[], locked: Set<string>, step: Step): Promise<void> {
    const keys = [...new Set(wanted.filter((k) => !locked.has(k)))]
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    if (!keys.length && !step.prefix) return;
    const take = (list: string) => `SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(${list}::bigint[]) AS k ORDER BY 1) s`;
    if (step.prefix) {
      // A simple query (no parameters) for both: the keys are our own hashes, digits only.
      if (!keys.every((k) => /^-?\d{1,19}$/.test(k))) throw new Error('advisory lock key is not a number');
      await c.query(keys.length ? `${step.prefix}; ${take(`'{${keys.join(',')}}'`)}` : step.prefix);
      step.prefix = null;
    } else {
      await c.query(prepared(take('$1'), [keys]));
    }
    for (const k of keys) locked.add(k);
  }

  /** Fetches the answers of `lookups` into the view, in one query. */
  private async fetch(c: pg.PoolClient, view: MissView, lookups: Lookup[]): Promise<void> {
    if (!lookups.length) return;
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(pgParam(v)); return `$${params.length}`; };
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
    const r = await c.query<Record<string, unknown>>(prepared(`SELECT ${cols.join(', ')}`, params));
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

  /**
   * The rows of a Decision (and the message's delivery-log line), in the order the JSON store
   * applies them, written by one statement: one INSERT per table (data-modifying WITH
   * queries), so a message costs one round trip to write. `check` holds the provisional IDs
   * the decision used without taking them from their sequences: the statement takes them and
   * fails (22012) when another host took one first; the message is then decided again with
   * IDs taken one by one.
   */
  private async write(c: pg.PoolClient, d: Decision, view: MissView, check: Partial<Record<IdKind, number>>, line: string | null): Promise<void> {
    const params: unknown[] = [];
    const p = (v: unknown) => { params.push(pgParam(v)); return `$${params.length}`; };
    const writes: string[] = [];
    const insert = (collection: Collection, rows: object[], attempt = 0) => {
      if (!rows.length) return;
      const spec = tableOf(collection);
      const tuples = rows.map((row) => {
        const values = spec.values(row as Record<string, unknown>);
        // The n-th ledger entry of a key is attempt n, n as many as the decision saw: (key,
        // attempt) is unique, so of two hosts that both decided on a key's first entry, one fails.
        const cols = spec.columns.map((col, i) => p(collection === 'inbound' && col === 'attempt' ? attempt : values[i]));
        return `(${[...cols, p(JSON.stringify(row))].join(', ')})`;
      });
      writes.push(`INSERT INTO ${spec.table} (${[...spec.columns, 'doc'].join(', ')}) VALUES ${tuples.join(', ')}`);
    };
    let request = d.request;
    // A note updates its record's `updated_at`, as the platform does (and the JSON store).
    if (d.note && d.record) {
      const touch = (rec: Record<string, unknown>) => {
        if (!('updated_at' in rec)) return null;
        return { ...rec, updated_at: d.note!.created_at };
      };
      if (request && request.id === d.record.id && d.record.type === 'request') {
        request = (touch(request as unknown as Record<string, unknown>) ?? request) as typeof request;
      } else {
        const known = view.answers.get(lookupKey({ kind: 'record', type: d.record.type, id: d.record.id })) as Record<string, unknown> | null | undefined;
        let rec = known ?? null;
        if (known === undefined) {
          const r = await c.query<{ doc: string }>('SELECT doc::text AS doc FROM m4me_records WHERE type = $1 AND id = $2', [d.record.type, d.record.id]);
          const text = r.rows[0]?.doc;
          rec = text === undefined ? null : JSON.parse(text) as Record<string, unknown>;
        }
        const touched = rec && touch(rec);
        if (touched) writes.push(`UPDATE m4me_records SET doc = ${p(JSON.stringify(touched))} WHERE type = ${p(d.record.type)} AND id = ${p(d.record.id)}`);
      }
    }
    if (d.person) insert('people', [d.person]);
    if (request) insert('requests', [request]);
    if (d.note) insert('notes', [d.note]);
    insert('notifications', d.notifications);
    insert('auto_replies', d.outgoing.map((m) => ({ message_id: m.messageId, to: m.to, kind: m.kind, sent_at: m.date, in_reply_to: m.inReplyTo })));
    if (d.inbound) insert('inbound', [d.inbound], view.ledgerCounts.get(d.inbound.key) ?? 0);
    if (line && d.inbound) writes.push(`INSERT INTO m4me_delivery_log (key, at, line) VALUES (${p(d.inbound.key)}, ${p(d.inbound.received_at)}, ${p(line)})`);
    const files = [...new Map(d.files.map((f) => [f.sha256, f])).values()];
    if (files.length) {
      writes.push(`INSERT INTO m4me_attachments (sha256, size, content) VALUES ${files.map((f) => `(${p(f.sha256)}, ${p(f.content.length)}, ${p(f.content)})`).join(', ')} ON CONFLICT DO NOTHING`);
    }
    const checks = (Object.entries(check) as [IdKind, number][])
      // 0 when the value taken is the one used, else a division by zero (not `CASE … ELSE 1/0`:
      // the planner folds a constant 1/0 before any row is seen).
      .map(([kind, id]) => `0 / (1 - abs(sign(nextval('${SEQUENCE[kind]}') - ${p(id)}::bigint)))`);
    if (writes.length || checks.length) {
      await c.query(prepared(`${writes.length ? `WITH ${writes.map((w, i) => `w${i} AS (${w})`).join(', ')} ` : ''}SELECT ${checks.join(' + ') || '0'}`, params));
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

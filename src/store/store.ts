import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Decision } from '../engine/types.js';
import { describeIoError, ioStatus, ioWhere, TempFailure } from './errors.js';
import { finalName, folderMode, injected, isTempName, makeDurable, syncDir, syncDirs, type TempFile, useModeOf, writeTemp } from './durable.js';
import { StoreFile } from './file.js';
import { RESIDENT, StoreIndex } from './indexes.js';
import { appendLog, logLine, type LogLine, logPath, readLog, rewriteLog } from './delivery-log.js';
import { applyOps, groupLine, Journal, journalPath, type Op, readJournal } from './journal.js';
import { jsonErrorPlace } from './json-error.js';
import { type HeldLock, lock, staleMs } from './lock.js';
import { outboxFileName, outboxMessageId, renderOutgoing } from './outbox.js';
import { ARRAY_COLLECTIONS, type AutoReply, type InboundEntry, type StoreData } from './schema.js';
import type { Table } from './table.js';
import { collectionProblems } from './validate.js';
import { WRITER_AFTER, WriterThread } from './writer.js';

export interface StorePaths { store: string; outbox: string; files: string }

export function defaultPaths(store: string, outbox?: string): StorePaths {
  return { store, outbox: outbox ?? `${store}.outbox`, files: `${store}.files` };
}

/** Checks the shape of a parsed store file; returns the problems, empty when it is usable. */
export function storeProblems(data: unknown): string[] {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return ['the file is not a JSON object'];
  const obj = data as Record<string, unknown>;
  const problems: string[] = [];
  if (!Array.isArray(obj.accounts)) problems.push('"accounts" is missing or not a list');
  for (const c of ARRAY_COLLECTIONS) {
    if (!(c in obj)) continue;
    const list = obj[c];
    if (!Array.isArray(list)) { problems.push(`"${c}" is not a list`); continue; }
    const bad = list.findIndex((e) => typeof e !== 'object' || e === null || Array.isArray(e));
    if (bad >= 0) problems.push(`"${c}"[${bad}] is not an object`);
  }
  if (Array.isArray(obj.accounts)) {
    const bad = (obj.accounts as Record<string, unknown>[]).findIndex((a) => typeof a === 'object' && a !== null
      && (typeof a.id !== 'string' || typeof a.email_policy !== 'object' || a.email_policy === null));
    if (bad >= 0) problems.push(`"accounts"[${bad}] has no "id" or no "email_policy"`);
  }
  return problems;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Test-only fault injection (test/reliability): `M4ME_FAULT=write-store` makes every store
 * write fail, `M4ME_FAULT=write-reply` every reply file after a run's first four (those of
 * the writer thread: a disk that fills up during a batch), `M4ME_FAULT=write-file` every
 * attachment, outbox or quarantine file write (after
 * half of the bytes, as a full disk does), both with ENOSPC. Unset in normal use.
 */
const FAULT = process.env.M4ME_FAULT;

/**
 * Test-only (test/serve/journal.test.ts): `M4ME_FAULT=crash-after-journal` (a group appended
 * and synced, not yet answered), `crash-before-fold-rename` (the fold marker synced, the new
 * store file not renamed), `crash-after-fold-rename` (renamed, the journal not removed): the
 * process is killed (SIGKILL) right there, as a power cut would stop it.
 */
function crashAt(point: string): void {
  if (FAULT !== `crash-${point}`) return;
  process.kill(process.pid, 'SIGKILL');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000); // nothing more runs
}


/**
 * The JSON file store: opened once (./file.ts: read whole, or through the index saved beside
 * a large store), indexed (./indexes.ts), changed in memory by `apply`, and written atomically
 * (temp file + rename; unchanged rows copied, not re-serialised) by `checkpoint`, under a
 * lock file that every m4me process respects.
 */
export class Store {
  private held: HeldLock | null = null;
  private compromised: Error | null = null;
  private dirty = false;
  /**
   * Files written for changes not yet committed, under temporary names: attachments are
   * renamed into place just before the store commit, replies just after it (so the outbox
   * never holds a reply the store does not record). Removed if the commit never comes.
   */
  private blobs: TempFile[] = [];
  private replies: TempFile[] = [];
  /** Lines of the delivery log for the changes since the last checkpoint. */
  private logLines: string[] = [];
  /** Attachments renamed into place for the commit under way: removed if it fails. */
  private placed: string[] = [];
  /** Creates a batch's reply files (./writer.ts); started by the batch's fifth reply. */
  private writer: WriterThread | null = null;
  private repliesWritten = 0;
  /** Folders made since the last commit: their parents get the new names synced. */
  private madeDirs = new Set<string>();
  index!: StoreIndex;
  /** `<store>.journal` (./journal.ts), as read at open and kept since. */
  private journal!: Journal;
  /** serve: a commit appends to the journal instead of writing the whole file (see `useJournal`). */
  private journaling = false;
  /** The changes since the last commit, for the journal (only while journaling). */
  private ops: Op[] = [];
  /** Delivery log lines the journal holds and the log does not yet: appended to it by the next full write. */
  private foldLog: string[] = [];

  private constructor(readonly paths: StorePaths, private file: StoreFile) {}

  /** The whole store as plain data (every row parsed: for commands that list whole collections). */
  get data(): StoreData {
    const data = this.file.values();
    for (const c of ARRAY_COLLECTIONS) data[c] = (this.index.tables[c] as Table).all();
    return data as StoreData;
  }

  /** Opens the store; with `lockTimeoutMs` it first takes the lock, waiting up to that long. */
  static async open(paths: StorePaths, opts: { lock: boolean; lockTimeoutMs: number }): Promise<Store> {
    let st;
    let real: string;
    try {
      st = await stat(paths.store);
      // A symlinked store is written beside its target and renamed over it: the link stays.
      real = await realpath(paths.store);
    } catch (err) {
      throw new TempFailure('4.3.5', `store ${paths.store} ${describeIoError(err)} (create it with: m4me init --store ${paths.store})`);
    }
    if (!st.isFile()) throw new TempFailure('4.3.5', `store ${paths.store} is not a file`);
    const store = new Store(paths, new StoreFile(real));
    if (opts.lock) await store.lock(`${real}.lock`, opts.lockTimeoutMs);
    try {
      await store.load();
      if (opts.lock) store.recover();
    } catch (err) {
      await store.release();
      throw err;
    }
    return store;
  }

  private async lock(lockPath: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        // proper-lockfile's protocol (./lock.ts), as `lockfile.lock(store, { realpath: false,
        // lockfilePath: `${store}.lock`, stale: 15000, update: 5000 })` takes it.
        this.held = lock(lockPath, {
          stale: staleMs(), update: 5000, onCompromised: (err) => { this.compromised = err; },
        });
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ELOCKED') {
          throw new TempFailure(ioStatus(err), `cannot lock store ${this.paths.store}: ${describeIoError(err)}`);
        }
        if (Date.now() >= deadline) {
          throw new TempFailure('4.3.0', `store ${this.paths.store} is locked by another m4me process (waited ${timeoutMs} ms)`);
        }
        await sleep(5 + Math.random() * 45);
      }
    }
  }

  /**
   * Reads the store file, then the journal that extends it. Without the lock a fold may
   * replace the file (and remove the journal) in between: then both are read again, so a
   * reader never sees the file without the journal rows it had a moment before.
   */
  private async load(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.loadOnce();
      if (this.held || attempt >= 5 || !this.file.changedOnDisk()) return;
      this.file.close();
      this.journal.close();
      this.file = new StoreFile(this.file.path);
    }
  }

  private async loadOnce(): Promise<void> {
    let source;
    try {
      source = this.file.open(storeProblems).source;
    } catch (err) {
      if (err instanceof SyntaxError) {
        // The parser quotes the text it choked on: keep the stderr status to one line.
        const why = err.message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
        const place = await jsonErrorPlace(this.paths.store);
        throw new TempFailure('4.3.5', `store ${this.paths.store} is not valid JSON${place ? ` ${place}` : ''} (${why}); it was left untouched`);
      }
      const problems = (err as { problems?: string[] }).problems;
      if (problems) {
        throw new TempFailure('4.3.5', `store ${this.paths.store} is not an m4me store: ${problems.join('; ')}; it was left untouched`);
      }
      throw new TempFailure(ioStatus(err), `cannot read store ${this.paths.store}: ${describeIoError(err)}`);
    }
    // The reference data every decision reads is checked against the store's schema (a
    // string for from_auth_secrets would make every character a secret); the big
    // collections are not, so a delivery does not pay for the size of the store.
    const problems: string[] = [];
    for (const c of RESIDENT) problems.push(...collectionProblems(c, source.tables[c].all(), 5 - problems.length));
    if (problems.length) {
      throw new TempFailure('4.3.5', `store ${this.paths.store} is not an m4me store: ${problems.join('; ')}; it was left untouched (m4me check-config lists every problem)`);
    }
    this.index = new StoreIndex(source);
    try { useModeOf(statSync(this.file.path).mode); } catch { /* its write reports it */ }
    let read;
    try {
      read = readJournal(this.file.path, this.file.fileId!);
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot read the journal ${journalPath(this.file.path)}: ${describeIoError(err)}`);
    }
    this.journal = new Journal(this.file.path, read);
    this.foldLog = [];
    for (const g of read.groups) {
      applyOps(this.index, g.ops);
      for (const l of g.log) this.foldLog.push(`${JSON.stringify(l)}\n`);
    }
  }

  /** serve: commits append a line to the journal; `fold` writes the store file. */
  useJournal(): void { this.journaling = true; }

  /** Bytes of committed groups in the journal (0: the store file holds every change). */
  get journalBytes(): number { return this.journal.bytes; }

  /** The delivery log lines only the journal holds yet (m4me log shows them too). */
  get journalLog(): LogLine[] { return this.foldLog.map((l) => JSON.parse(l) as LogLine); }

  /**
   * What a process killed (or stopped and overtaken) before its commit left, removed under the
   * lock, so no other writer is at work: its temporary store files, and the replies it wrote
   * for a commit that never came. A reply whose commit did come (killed between the commit and
   * the renames) is put in place instead. Costs a readdir of two folders when there is nothing.
   */
  private recover(): void {
    const storeDir = dirname(this.file.path);
    const prefixes = [`.${basename(this.file.path)}.`, `${basename(this.file.path)}.index.`, `${basename(this.file.path)}.journal.`];
    try {
      if (this.journal.state === 'stale') this.journal.remove();
      if (this.journal.state === 'foreign') {
        const aside = this.journal.setAside();
        process.stderr.write(`m4me: warning: the journal beside store ${this.paths.store} extends another version of the store file (it was replaced, not by m4me): its messages are not in the store; kept as ${aside}\n`);
      }
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot clean up the journal ${journalPath(this.file.path)}: ${describeIoError(err)}`);
    }
    try {
      for (const n of readdirSync(storeDir)) {
        if (isTempName(n) && prefixes.some((p) => n.startsWith(p))) unlinkSync(join(storeDir, n));
      }
    } catch { /* best effort: a leftover temp file only takes space */ }
    let names: string[];
    try { names = readdirSync(this.paths.outbox); } catch { return; }
    const left = names.filter((n) => n.endsWith('.tmp') && isTempName(n) && finalName(n).endsWith('.eml'));
    if (!left.length) return;
    const recorded = new Set(this.index.tables.auto_replies.all().map((r) => (r as { message_id?: string }).message_id));
    try {
      for (const n of left) {
        const path = join(this.paths.outbox, n);
        const id = outboxMessageId(path);
        if (id && recorded.has(id)) renameSync(path, finalName(path));
        else unlinkSync(path);
      }
      syncDir(this.paths.outbox);
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot clean up outbox ${this.paths.outbox}: ${describeIoError(err)}`);
    }
  }

  /**
   * Applies a decision in memory; unless `persist` is false, first writes its attachment and
   * outbox files (under temporary names, their data syncing; see checkpoint). Both are named by
   * content or by a deterministic Message-ID, so applying the same decision again after a crash
   * overwrites them rather than doubling them.
   */
  async apply(decision: Decision, persist = true, about?: { from: string | null; subject: string }): Promise<void> {
    if (persist) {
      this.assertHeld(() => this.held?.refreshIfDue());
      this.writeFiles(decision);
      this.dirty = true;
      const line = about ? logLine(decision, about) : null;
      if (line) this.logLines.push(line);
    }
    // The same changes, in the same order, as a journal line replays them (./journal.ts).
    const ops: Op[] = [];
    if (decision.person) ops.push(['person', decision.person]);
    if (decision.request) ops.push(['request', decision.request]);
    if (decision.note) ops.push(['note', decision.note]);
    // A note updates its record's `updated_at`, as the platform does.
    if (decision.note && decision.record) ops.push(['touch', decision.record, decision.note.created_at]);
    for (const n of decision.notifications) ops.push(['notification', n]);
    for (const m of decision.outgoing) {
      ops.push(['auto_reply', { message_id: m.messageId, to: m.to, kind: m.kind, sent_at: m.date, in_reply_to: m.inReplyTo }]);
    }
    if (decision.inbound) ops.push(['inbound', decision.inbound]);
    applyOps(this.index, ops);
    if (persist && this.journaling) this.ops.push(...ops);
  }

  /**
   * Adds or replaces rows of a reference collection by `id` (m4me import), to be written at
   * the next checkpoint. A replaced row is changed in place: the table may hold it resident.
   */
  upsertRows(collection: string, rows: Record<string, unknown>[]): void {
    const table = this.index.tables[collection as keyof StoreIndex['tables']] as unknown as Table<Record<string, unknown>>;
    const at = new Map(table.all().map((r, i) => [r.id, i]));
    for (const row of rows) {
      const i = at.get(row.id);
      if (i === undefined) { at.set(row.id, table.push(row)); continue; }
      const current = table.get(i);
      for (const k of Object.keys(current)) delete current[k];
      table.touched(i, Object.assign(current, row));
    }
    this.dirty = true;
  }

  /** The store file itself (a symlinked store's target): its lock, log and index are beside it. */
  get filePath(): string { return this.file.path; }

  /**
   * m4me compact: ledger entries and automatic replies older than `before` leave the store,
   * and their lines the delivery log. Everything else is written as it was, durably, under
   * the lock. A message older than `before` delivered again would then be processed again:
   * choose `before` past any retry the mail system still makes (Postfix: 5 days).
   */
  compact(before: number, dryRun: boolean): { inbound: number; auto_replies: number; log: number } {
    const data = this.data as unknown as Record<string, unknown>;
    const old = (t: string | undefined) => Date.parse(t ?? '') < before;
    const inbound = data.inbound as InboundEntry[];
    const replies = data.auto_replies as AutoReply[];
    const lines = [...readLog(this.file.path), ...this.journalLog];
    const counts = { inbound: inbound.filter((e) => old(e.received_at)).length, auto_replies: replies.filter((r) => old(r.sent_at)).length, log: lines.filter((l) => old(l.at)).length };
    if (dryRun || counts.inbound + counts.auto_replies + counts.log === 0) return counts;
    data.inbound = inbound.filter((e) => !old(e.received_at));
    data.auto_replies = replies.filter((r) => !old(r.sent_at));
    try {
      // The log first: a line without its ledger entry is never shown; the reverse would lose a trace.
      if (counts.log) rewriteLog(this.file.path, lines.filter((l) => !old(l.at)));
      else appendLog(this.file.path, this.foldLog);
      this.foldLog = [];
      this.file.replaceWith(JSON.stringify(data), () => this.assertHeld(() => this.held?.held()), (into) => this.journal.markFolded(into));
      this.journal.remove();
    } catch (err) {
      if (err instanceof TempFailure) throw err;
      throw new TempFailure(ioStatus(err), `cannot write store ${this.paths.store}: ${describeIoError(err)}; it was left as it was`);
    }
    this.dirty = false;
    return counts;
  }

  /** Runs a lock check; a lost lock is a temporary failure (75): the store is not written. */
  private assertHeld(check: () => void): void {
    if (this.compromised) throw this.lostLock();
    try { check(); } catch (err) {
      this.compromised ??= err as Error;
      throw this.lostLock();
    }
  }

  private lostLock(): TempFailure {
    return new TempFailure('4.3.0', `lost the lock on store ${this.paths.store} (${this.compromised?.message}): another m4me process took it over; nothing since the last commit was written`);
  }

  // Small files, one after the other: written synchronously, which takes a batch a fraction
  // of the CPU time (and none of the thread pool's hand-offs) that the asynchronous calls do.
  // They are synced together at the checkpoint (./durable.ts).
  private writeFiles(decision: Decision): void {
    try {
      for (const f of decision.files) this.writeBlob(f.sha256, f.content);
      if (decision.outgoing.length) this.folder(this.paths.outbox);
      for (const m of decision.outgoing) {
        const path = join(this.paths.outbox, outboxFileName(m));
        // serve: a group has a few replies, and a round trip to the thread cost more than it saved.
        if (++this.repliesWritten > WRITER_AFTER && !this.journaling) {
          this.replies.push((this.writer ??= new WriterThread()).write(path, renderOutgoing(m), FAULT === 'write-file' || FAULT === 'write-reply'));
        } else {
          this.replies.push(writeTemp(path, renderOutgoing(m)));
        }
      }
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot write beside store ${this.paths.store}: ${ioWhere(err)}${describeIoError(err)}`);
    }
  }

  /** Attachments written for the commit under way, by path (one file for equal attachments). */
  private blobPaths = new Set<string>();

  private writeBlob(sha256: string, content: Buffer): void {
    const path = join(this.paths.files, sha256.slice(0, 2), sha256);
    if (this.blobPaths.has(path)) return;
    let size = -1;
    try { size = statSync(path).size; } catch { /* not there yet */ }
    if (size === content.length) return;
    this.folder(dirname(path));
    this.blobs.push(writeTemp(path, content));
    this.blobPaths.add(path);
  }

  /** Folders made (or found) already: each is made once per run. */
  private folders = new Set<string>();

  private folder(path: string): void {
    if (this.folders.has(path)) return;
    // The first folder mkdir made, if any: it and those under it are new names to sync.
    const made = mkdirSync(path, { recursive: true, mode: folderMode() });
    if (made) for (let d = path; d.length >= made.length; d = dirname(d)) this.madeDirs.add(d);
    this.folders.add(path);
  }

  /**
   * Commits every change since the last checkpoint, durably, in this order: the data of the
   * new files synced (together: their syncs ran while the batch went on); attachments renamed
   * into place; every folder with a new name synced once (beside the files' data when there is
   * no attachment to put in place); the store written, synced, checked to be still under this
   * process's lock, renamed, its folder synced (the commit; serve: its journal line appended
   * and synced); then the replies renamed into the outbox and the outbox synced (serve does not
   * wait for that sync). Only then may the caller report the messages as done (exit 0, results
   * printed, a 250).
   */
  async checkpoint(): Promise<void> {
    this.assertHeld(() => undefined);
    if (!this.dirty) return;
    // Nothing goes in place beside the store (attachments renamed over equal ones another
    // process may have stored) unless the lock is still this process's.
    this.assertHeld(() => this.held?.held());
    try {
      await this.writer?.flush();
      const dirs = new Set<string>();
      for (const f of this.blobs) dirs.add(dirname(f.path));
      if (this.replies.length) dirs.add(this.paths.outbox);
      for (const d of this.madeDirs) dirs.add(dirname(d));
      await makeDurable([...this.blobs, ...this.replies], dirs, () => {
        for (const f of this.blobs) {
          if (f.placed) continue;
          renameSync(f.tmp, f.path);
          f.placed = true;
          this.placed.push(f.path);
        }
      }, { together: this.blobs.every((f) => f.placed) });
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot write beside store ${this.paths.store}: ${ioWhere(err)}${describeIoError(err)}`);
    }
    this.assertHeld(() => undefined);
    if (this.journaling && this.file.fileId) await this.appendJournal();
    else this.writeStore();
    // Committed. A reply that cannot be renamed now is put in place by the next run (recover).
    try {
      for (const f of this.replies) renameSync(f.tmp, f.path);
      // The renames need not be on the disk before the messages are reported done: a reply
      // left under its temporary name is one the store records, put in place by the next run
      // (recover). A batch waits for the sync once per checkpoint; serve goes on (its next
      // commit's syncs would wait behind this one: measured in docs/PERFORMANCE.md).
      if (this.replies.length) {
        const synced = syncDirs([this.paths.outbox]);
        if (this.journaling) synced.catch(() => undefined);
        else await synced;
      }
    } catch { /* recovered by the next run */ }
    this.dirty = false;
    this.blobs = [];
    this.replies = [];
    this.placed = [];
    this.blobPaths.clear();
    this.madeDirs.clear();
  }

  /**
   * The commit of a serve group: its changes and log lines as one journal line, synced
   * (./journal.ts), under the lock. A group of duplicates only has nothing to append.
   */
  private async appendJournal(): Promise<void> {
    if (this.ops.length || this.logLines.length) {
      const line = groupLine(this.ops, this.logLines);
      this.assertHeld(() => this.held?.held());
      try {
        if (FAULT === 'write-store') throw injected();
        await this.journal.append(line, this.file.fileId!, () => this.file.sync());
      } catch (err) {
        throw new TempFailure(ioStatus(err), `cannot write the journal ${journalPath(this.file.path)}: ${describeIoError(err)}; nothing of this commit is in the store`);
      }
      crashAt('after-journal');
      this.foldLog.push(...this.logLines);
    }
    this.ops = [];
    this.logLines = [];
  }

  /**
   * The whole store file written (unchanged rows copied) with every change in memory, the
   * journal's too, and the journal then removed: a commit of `process`, `import`, ..., and
   * serve's fold. The delivery log gets its lines first, the journal's with them.
   */
  private writeStore(): void {
    try {
      appendLog(this.file.path, [...this.foldLog, ...this.logLines]);
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot write the delivery log ${logPath(this.file.path)}: ${describeIoError(err)}`);
    }
    this.foldLog = [];
    this.logLines = [];
    this.ops = [];
    try {
      // Nothing to write when the file already holds exactly this (a duplicate, say).
      if (this.file.needsWrite) {
        this.file.write({
          fault: FAULT === 'write-store' ? () => { throw injected(); } : undefined,
          progress: () => this.assertHeld(() => this.held?.refreshIfDue()),
          beforeCommit: () => this.assertHeld(() => this.held?.held()),
          beforeRename: (into) => {
            this.journal.markFolded(into);
            crashAt('before-fold-rename');
          },
        });
        crashAt('after-fold-rename');
      }
    } catch (err) {
      if (err instanceof TempFailure) throw err;
      // The temporary file is removed by the writer: a full disk keeps no partial one.
      throw new TempFailure(ioStatus(err), `cannot write store ${this.paths.store}: ${describeIoError(err)}; it was left as it was`);
    }
    // The file holds everything in memory, the journal's rows with it.
    this.journal.remove();
  }

  /**
   * serve, between beginCommit and endCommit: writes the journal's rows into the store file
   * and removes the journal (when idle, when the journal is large, when stopping).
   */
  fold(): void {
    if (!this.held) throw new Error('fold: the lock is not held');
    this.assertHeld(() => undefined);
    if (this.journal.state === 'absent') return;
    this.writeStore();
  }

  /**
   * Removes the files written for changes that never reached the store: temporary files, and
   * attachments put in place for a commit that failed — unless the lock was lost (then a
   * process that took it over may have stored and named the same content).
   */
  private async removeUncommitted(): Promise<void> {
    const orphans = [...this.blobs, ...this.replies];
    const placed = this.placed;
    this.blobs = [];
    this.replies = [];
    this.placed = [];
    // The writer thread's files are all written (or failed) before any is removed.
    if (this.writer) await this.writer.flush().catch(() => undefined);
    for (const f of orphans) if (!f.placed) await unlink(f.tmp).catch(() => undefined);
    if (!this.compromised) for (const path of placed) await unlink(path).catch(() => undefined);
  }

  /**
   * Releases the lock. Files written for changes that never reached the store (a failed
   * write, an error mid-batch) are removed first, so no reply for a request that does not
   * exist waits in the outbox; a retry writes them again under the same names.
   */
  async release(): Promise<void> {
    await this.removeUncommitted();
    if (this.writer) {
      await this.writer.close().catch(() => undefined);
      this.writer = null;
    }
    // For the next process: the index of a large store, saved while the lock is still held
    // (and only when the file holds every change: after an error it is left as it was).
    if (this.held && !this.compromised) this.file.saveIndex(() => this.index.saveLookups());
    this.file.close();
    this.journal?.close();
    await this.letGoLock();
  }
  /** serve: the memory holds changes the file never got (a failed commit): read it again. */
  private outOfDate = false;
  /** serve: `recover` has run since the store was opened. */
  private recovered = false;

  /**
   * `m4me serve`: the store stays open (opened without the lock) and each commit takes the
   * lock, from `beginCommit` to `endCommit`, so other m4me processes run between commits.
   * Under the lock, a file another process changed since this one read or wrote it (or a
   * failed commit) is read again before anything is decided, and what a killed process left
   * is cleaned up, as `open` does.
   */
  async beginCommit(lockTimeoutMs: number): Promise<{ reloaded: boolean; kept: boolean }> {
    if (this.kept) {
      this.kept = false;
      // Held since the last commit: no other process can have changed the store meanwhile.
      if (!this.compromised && this.held) {
        this.folders.clear();
        return { reloaded: false, kept: true };
      }
      // Lost meanwhile (stalled past the stale time): let go and take it again, as any commit does.
      await this.letGoLock();
    }
    if (this.held) throw new Error('beginCommit: the lock is held already');
    this.compromised = null;
    await this.lock(`${this.file.path}.lock`, lockTimeoutMs);
    try {
      let reloaded = false;
      // The journal too: another serve on the same store appends to it.
      if (this.outOfDate || this.file.changedOnDisk() || this.journal.changed()) {
        // Until a load succeeds, the tables in memory describe no file this process can trust.
        this.outOfDate = true;
        this.file.close();
        this.journal.close();
        this.file = new StoreFile(this.file.path);
        this.dirty = false;
        this.logLines = [];
        this.ops = [];
        await this.load();
        this.outOfDate = false;
        reloaded = true;
      }
      // Folders may have been removed by an operator since the last commit: made again.
      this.folders.clear();
      // What a killed process left: only a process that committed (the file or the journal
      // changed: reloaded) can have left replies to put in place; the rest is litter, cleaned
      // at the next reload. A readdir of the outbox per commit cost serve 8 % of its time.
      if (reloaded || !this.recovered) {
        this.recover();
        this.recovered = true;
      }
      return { reloaded, kept: false };
    } catch (err) {
      await this.endCommit();
      throw err;
    }
  }

  /** serve: the lock was kept at the last endCommit for the commit that follows (beginCommit). */
  private kept = false;

  /** Releases the lock this process holds, if any (a release that fails leaves it to go stale). */
  private async letGoLock(): Promise<void> {
    const held = this.held;
    this.held = null;
    if (held) await held.release().catch(() => undefined);
  }

  /**
   * Ends what `beginCommit` began: after a failed commit, the files written for it are removed
   * (as `release` does) and the store is read again at the next commit; the lock is released,
   * unless `keepLock` (serve: messages are waiting for the next commit at once) and the commit
   * succeeded: then the next beginCommit goes on under it. The file stays open.
   */
  async endCommit(opts: { keepLock?: boolean } = {}): Promise<void> {
    if (this.dirty || this.blobs.length || this.replies.length || this.placed.length) {
      this.outOfDate = true;
      this.logLines = [];
      this.ops = [];
      this.blobPaths.clear();
      this.madeDirs.clear();
      this.dirty = false;
      await this.removeUncommitted();
    }
    if (opts.keepLock && !this.outOfDate && !this.compromised && this.held) {
      this.kept = true;
      return;
    }
    await this.letGoLock();
  }
}

/**
 * Writes a file durably under its final name (for the quarantine): temporary file, data
 * synced, renamed, folder synced.
 */
export async function atomicWrite(path: string, content: string | Buffer): Promise<void> {
  const f = writeTemp(path, content);
  try {
    await makeDurable([f], new Set([dirname(path)]), () => renameSync(f.tmp, path));
  } catch (err) {
    await unlink(f.tmp).catch(() => undefined); // never leave a partial file behind (disk full)
    throw err;
  }
}

export { TempFailure };

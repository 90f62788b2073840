import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Decision, OutgoingMail } from '../engine/types.js';
import { describeIoError, ioStatus, TempFailure } from './errors.js';
import { StoreFile } from './file.js';
import { RESIDENT, StoreIndex } from './indexes.js';
import { jsonErrorPlace } from './json-error.js';
import { lock } from './lock.js';
import { outboxFileName, renderOutgoing } from './outbox.js';
import { ARRAY_COLLECTIONS, type StoreData } from './schema.js';
import type { Table } from './table.js';
import { collectionProblems } from './validate.js';

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
 * write fail, `M4ME_FAULT=write-file` every attachment, outbox or quarantine file write (after
 * half of the bytes, as a full disk does), both with ENOSPC. Unset in normal use.
 */
const FAULT = process.env.M4ME_FAULT;
const injected = (): NodeJS.ErrnoException =>
  Object.assign(new Error(`ENOSPC: no space left on device (M4ME_FAULT=${FAULT})`), { code: 'ENOSPC' });

/**
 * The JSON file store: opened once (./file.ts: read whole, or through the index saved beside
 * a large store), indexed (./indexes.ts), changed in memory by `apply`, and written atomically
 * (temp file + rename; unchanged rows copied, not re-serialised) by `checkpoint`, under a
 * lock file that every m4me process respects.
 */
export class Store {
  private unlock: (() => Promise<void>) | null = null;
  private compromised: Error | null = null;
  private dirty = false;
  /** Attachment and outbox files written since the last checkpoint: removed if it never comes. */
  private unsaved: string[] = [];
  index!: StoreIndex;

  private constructor(readonly paths: StorePaths, private file: StoreFile) {}

  /** The whole store as plain data (every row parsed: for commands that list whole collections). */
  get data(): StoreData {
    const data = this.file.values();
    for (const c of ARRAY_COLLECTIONS) data[c] = (this.index.tables[c] as Table).all();
    return data as StoreData;
  }

  /** Opens the store; with `lockTimeoutMs` it first takes the lock, waiting up to that long. */
  static async open(paths: StorePaths, opts: { lock: boolean; lockTimeoutMs: number }): Promise<Store> {
    const store = new Store(paths, new StoreFile(paths.store));
    let st;
    try {
      st = await stat(paths.store);
    } catch (err) {
      throw new TempFailure('4.3.5', `store ${paths.store} ${describeIoError(err)} (create it with: m4me init --store ${paths.store})`);
    }
    if (!st.isFile()) throw new TempFailure('4.3.5', `store ${paths.store} is not a file`);
    if (opts.lock) await store.lock(opts.lockTimeoutMs);
    try {
      await store.load();
    } catch (err) {
      await store.release();
      throw err;
    }
    return store;
  }

  private async lock(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        // proper-lockfile's protocol (./lock.ts), as `lockfile.lock(store, { realpath: false,
        // lockfilePath: `${store}.lock`, stale: 15000, update: 5000 })` takes it.
        this.unlock = lock(`${this.paths.store}.lock`, {
          stale: 15000, update: 5000, onCompromised: (err) => { this.compromised = err; },
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

  private async load(): Promise<void> {
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
  }

  /**
   * Applies a decision in memory; unless `persist` is false, first writes its attachment and
   * outbox files. Both are named by content or by a deterministic Message-ID, so applying the
   * same decision again after a crash overwrites them rather than doubling them.
   */
  async apply(decision: Decision, persist = true): Promise<void> {
    if (persist) {
      this.writeFiles(decision);
      this.dirty = true;
    }
    const ix = this.index;
    if (decision.person) ix.addPerson(decision.person);
    if (decision.request) ix.addRecord('request', decision.request);
    if (decision.note) ix.addNote(decision.note);
    // A note updates its record's `updated_at`, as the platform does.
    if (decision.note && decision.record) ix.touchRecord(decision.record, decision.note.created_at);
    for (const n of decision.notifications) ix.addNotification(n);
    for (const m of decision.outgoing) {
      ix.addAutoReply({ message_id: m.messageId, to: m.to, kind: m.kind, sent_at: m.date, in_reply_to: m.inReplyTo });
    }
    if (decision.inbound) ix.addInbound(decision.inbound);
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

  // Small files, one after the other: written synchronously, which takes a batch a fraction
  // of the CPU time (and none of the thread pool's hand-offs) that the asynchronous calls do.
  private writeFiles(decision: Decision): void {
    try {
      for (const f of decision.files) this.writeBlob(f.sha256, f.content);
      if (decision.outgoing.length) this.folder(this.paths.outbox);
      for (const m of decision.outgoing) {
        const path = this.outboxPath(m);
        atomicWriteSync(path, renderOutgoing(m));
        this.unsaved.push(path);
      }
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot write beside store ${this.paths.store}: ${describeIoError(err)}`);
    }
  }

  /** Outbox file names by their part after the time stamp (kind and Message-ID), read once. */
  private outboxNames: Map<string, string> | null = null;

  /**
   * Where a reply goes: the file it already has when a killed run wrote it but not the store
   * (named with that run's time stamp), so the retry overwrites it instead of doubling it.
   */
  private outboxPath(m: OutgoingMail): string {
    const stable = (name: string) => name.replace(/^\d+-/, '');
    if (!this.outboxNames) {
      this.outboxNames = new Map();
      for (const n of readdirSync(this.paths.outbox)) this.outboxNames.set(stable(n), n);
    }
    const name = outboxFileName(m);
    const existing = this.outboxNames.get(stable(name));
    if (!existing) this.outboxNames.set(stable(name), name);
    return join(this.paths.outbox, existing ?? name);
  }

  private writeBlob(sha256: string, content: Buffer): void {
    const path = join(this.paths.files, sha256.slice(0, 2), sha256);
    let size = -1;
    try { size = statSync(path).size; } catch { /* not there yet */ }
    if (size === content.length) return;
    this.folder(dirname(path));
    atomicWriteSync(path, content);
    this.unsaved.push(path);
  }

  /** Folders made (or found) already: each is made once per run. */
  private folders = new Set<string>();

  private folder(path: string): void {
    if (this.folders.has(path)) return;
    mkdirSync(path, { recursive: true });
    this.folders.add(path);
  }

  /** Writes the store if anything changed since the last checkpoint. */
  async checkpoint(): Promise<void> {
    if (this.compromised) {
      throw new TempFailure('4.3.0', `lost the lock on store ${this.paths.store}: ${this.compromised.message}`);
    }
    if (!this.dirty) return;
    try {
      // Nothing to write when the file already holds exactly this (a duplicate, say).
      if (this.file.needsWrite) this.file.write(FAULT === 'write-store' ? () => { throw injected(); } : undefined);
    } catch (err) {
      // The temporary file (`.<name>.tmp`) is removed by the writer: a full disk keeps no partial one.
      throw new TempFailure(ioStatus(err), `cannot write store ${this.paths.store}: ${describeIoError(err)}; it was left as it was`);
    }
    this.dirty = false;
    this.unsaved = [];
  }

  /**
   * Releases the lock. Files written for changes that never reached the store (a failed
   * write, an error mid-batch) are removed first, so no reply for a request that does not
   * exist waits in the outbox; a retry writes them again under the same names.
   */
  async release(): Promise<void> {
    const orphans = this.unsaved;
    this.unsaved = [];
    for (const path of orphans) await unlink(path).catch(() => undefined);
    // For the next process: the index of a large store, saved while the lock is still held
    // (and only when the file holds every change: after an error it is left as it was).
    if (this.unlock && !this.compromised) this.file.saveIndex(() => this.index.saveLookups());
    this.file.close();
    const unlock = this.unlock;
    this.unlock = null;
    if (unlock) await unlock().catch(() => undefined);
  }
}

/** Path of an attachment file relative to the store's folder, as notes record it. */
export function blobPath(paths: StorePaths, sha256: string): string {
  const base = paths.files.slice(dirname(paths.store).length + 1) || paths.files;
  return `${base}/${sha256.slice(0, 2)}/${sha256}`;
}

/** atomicWrite, synchronously (for the many small files of a batch). */
export function atomicWriteSync(path: string, content: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    if (FAULT === 'write-file') {
      writeFileSync(tmp, content.slice(0, content.length >> 1));
      throw injected();
    }
    writeFileSync(tmp, content);
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* not written */ } // never leave a partial file behind (disk full)
    throw err;
  }
}

export async function atomicWrite(path: string, content: string | Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    if (FAULT === 'write-file') {
      await writeFile(tmp, content.slice(0, content.length >> 1));
      throw injected();
    }
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // never leave a partial file behind (disk full)
    throw err;
  }
}

export { TempFailure };

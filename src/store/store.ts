import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Low } from 'lowdb';
import { DataFile } from 'lowdb/node';
import lockfile from 'proper-lockfile';
import type { Decision, OutgoingMail } from '../engine/types.js';
import { describeIoError, ioStatus, TempFailure } from './errors.js';
import { StoreIndex } from './indexes.js';
import { outboxFileName, renderOutgoing } from './outbox.js';
import { ARRAY_COLLECTIONS, type StoreData } from './schema.js';

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
 * The JSON file store: loaded once, indexed, changed in memory by `apply`, and written
 * atomically (temp file + rename, by lowdb's writer) by `checkpoint`, under a lock file
 * that every m4me process respects.
 */
export class Store {
  private unlock: (() => Promise<void>) | null = null;
  private compromised: Error | null = null;
  private dirty = false;
  /** Attachment and outbox files written since the last checkpoint: removed if it never comes. */
  private unsaved: string[] = [];
  index!: StoreIndex;

  private constructor(readonly paths: StorePaths, private db: Low<StoreData>) {}

  get data(): StoreData { return this.db.data; }

  /** Opens the store; with `lockTimeoutMs` it first takes the lock, waiting up to that long. */
  static async open(paths: StorePaths, opts: { lock: boolean; lockTimeoutMs: number }): Promise<Store> {
    const file = new DataFile<StoreData>(paths.store, { parse: JSON.parse, stringify: (d) => JSON.stringify(d) });
    const store = new Store(paths, new Low(file, null as unknown as StoreData));
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
        this.unlock = await lockfile.lock(this.paths.store, {
          realpath: false, lockfilePath: `${this.paths.store}.lock`, stale: 15000, update: 5000,
          onCompromised: (err) => { this.compromised = err; },
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
    try {
      await this.db.read();
    } catch (err) {
      if (err instanceof SyntaxError) {
        // The parser quotes the text it choked on: keep the stderr status to one line.
        const why = err.message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
        throw new TempFailure('4.3.5', `store ${this.paths.store} is not valid JSON (${why}); it was left untouched`);
      }
      throw new TempFailure(ioStatus(err), `cannot read store ${this.paths.store}: ${describeIoError(err)}`);
    }
    const problems = storeProblems(this.db.data);
    if (problems.length) {
      throw new TempFailure('4.3.5', `store ${this.paths.store} is not an m4me store: ${problems.join('; ')}; it was left untouched`);
    }
    const data = this.db.data as unknown as Record<string, unknown>;
    for (const c of ARRAY_COLLECTIONS) data[c] ??= [];
    this.index = new StoreIndex(this.db.data);
  }

  /**
   * Applies a decision in memory; unless `persist` is false, first writes its attachment and
   * outbox files. Both are named by content or by a deterministic Message-ID, so applying the
   * same decision again after a crash overwrites them rather than doubling them.
   */
  async apply(decision: Decision, persist = true): Promise<void> {
    if (persist) {
      await this.writeFiles(decision);
      this.dirty = true;
    }
    const data = this.db.data;
    if (decision.person) { data.people.push(decision.person); this.index.addPerson(decision.person); }
    if (decision.request) { data.requests.push(decision.request); this.index.addRecord('request', decision.request); }
    if (decision.note) { data.notes.push(decision.note); this.index.addNote(decision.note); }
    if (decision.note && decision.record) this.touch(decision);
    for (const n of decision.notifications) { data.notifications.push(n); this.index.addNotification(n); }
    for (const m of decision.outgoing) {
      const reply = { message_id: m.messageId, to: m.to, kind: m.kind, sent_at: m.date, in_reply_to: m.inReplyTo };
      data.auto_replies.push(reply);
      this.index.addAutoReply(reply);
    }
    if (decision.inbound) { data.inbound.push(decision.inbound); this.index.addInbound(decision.inbound); }
  }

  /** A note updates its record's `updated_at`, as the platform does. */
  private touch(decision: Decision): void {
    const rec = this.index.record(decision.record!.type, decision.record!.id);
    if (rec && 'updated_at' in rec) rec.updated_at = decision.note!.created_at;
  }

  private async writeFiles(decision: Decision): Promise<void> {
    try {
      for (const f of decision.files) await this.writeBlob(f.sha256, f.content);
      if (decision.outgoing.length) await mkdir(this.paths.outbox, { recursive: true });
      for (const m of decision.outgoing) {
        const path = await this.outboxPath(m);
        await atomicWrite(path, renderOutgoing(m));
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
  private async outboxPath(m: OutgoingMail): Promise<string> {
    const stable = (name: string) => name.replace(/^\d+-/, '');
    if (!this.outboxNames) {
      this.outboxNames = new Map();
      for (const n of await readdir(this.paths.outbox)) this.outboxNames.set(stable(n), n);
    }
    const name = outboxFileName(m);
    const existing = this.outboxNames.get(stable(name));
    if (!existing) this.outboxNames.set(stable(name), name);
    return join(this.paths.outbox, existing ?? name);
  }

  private async writeBlob(sha256: string, content: Buffer): Promise<void> {
    const path = join(this.paths.files, sha256.slice(0, 2), sha256);
    try {
      const st = await stat(path);
      if (st.size === content.length) return;
    } catch { /* not there yet */ }
    await mkdir(dirname(path), { recursive: true });
    await atomicWrite(path, content);
    this.unsaved.push(path);
  }

  /** Writes the store if anything changed since the last checkpoint. */
  async checkpoint(): Promise<void> {
    if (this.compromised) {
      throw new TempFailure('4.3.0', `lost the lock on store ${this.paths.store}: ${this.compromised.message}`);
    }
    if (!this.dirty) return;
    try {
      if (FAULT === 'write-store') throw injected();
      await this.db.write();
    } catch (err) {
      // lowdb (steno) writes `.<name>.tmp` and renames it: on a full disk a partial one stays.
      await unlink(join(dirname(this.paths.store), `.${basename(this.paths.store)}.tmp`)).catch(() => undefined);
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

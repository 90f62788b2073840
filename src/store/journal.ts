/**
 * The journal beside the JSON store (`<store>.journal`): what `m4me serve` commits between
 * two writes of the whole store file. A group commit appends one line and syncs it (a few
 * KB and one fdatasync) instead of rewriting and syncing the whole file (9 MB and ~20 ms in
 * bench/serve.mjs); the rows are written into the file later, by a fold: any full write of
 * the store while a journal is there (serve's own, or any other writer's: process, import,
 * compact, ...), after which the journal is removed.
 *
 * Format: JSON lines.
 * - The first line names the version of the store file the journal extends:
 *   `{"m4me_journal":1,"store":{"ino","size","mtime"}}` (inode, size, mtime in whole seconds:
 *   what survives a reboot, unlike the device number or a file system's nanoseconds).
 * - Then one line per committed group: `{"ops":[...],"log":[...]}`, the row changes exactly as
 *   Store.apply makes them (see `Op`), in order, and the group's delivery log lines, which
 *   the fold appends to `<store>.log` (one sync per group instead of two).
 * - A fold appends `{"folded":{"ino","size","mtime"}}` naming the new store file, synced,
 *   before renaming it into place: a journal whose first line does not name the file but
 *   whose marker does is one a fold wrote into the file and did not get to remove (a crash
 *   between the rename and the unlink). It is ignored and removed, never applied twice.
 * - A journal that names neither (the store was replaced by something other than m4me: a
 *   backup restored, a hand edit) is not applied either, and not removed: the first writer
 *   moves it aside (`<store>.journal.<time>.orphaned`) and says so, as it holds messages
 *   that were answered 250 and are not in that file.
 * - A line that does not end in a newline or does not parse (a crash mid-append: never
 *   answered 250, as the answer waits for the sync) ends the journal: it and anything after
 *   it are ignored, and cut away before the next append.
 */
import { close, closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLine } from './delivery-log.js';
import { fileMode, syncDir, tempName } from './durable.js';
import type { StoreIndex } from './indexes.js';
import { ARRAY_COLLECTIONS, COLLECTION, type AutoReply, type InboundEntry, type Note, type Notification, type Person, type RecordRef, type Request } from './schema.js';

export const journalPath = (store: string) => `${store}.journal`;
const VERSION = 1;

/** Which version of the store file a journal extends. */
export interface FileId { ino: string; size: string; mtime: string }

export const fileIdOf = (st: { ino: bigint; size: bigint; mtimeNs: bigint }): FileId => ({
  ino: String(st.ino), size: String(st.size), mtime: String(st.mtimeNs / 1_000_000_000n),
});
const sameId = (a: FileId | undefined, b: FileId) => !!a && a.ino === b.ino && a.size === b.size && a.mtime === b.mtime;

/** One change Store.apply makes to the index, in the order it makes them. */
export type Op =
  | ['person', Person] | ['request', Request] | ['note', Note] | ['touch', RecordRef, string]
  | ['notification', Notification] | ['auto_reply', AutoReply] | ['inbound', InboundEntry];

export interface JournalGroup { ops: Op[]; log: LogLine[] }

/**
 * - absent: no journal.
 * - current: it extends the store file as it is: apply it.
 * - stale: its rows are in the file already (or it is empty): ignore it; a writer removes it.
 * - foreign: it extends a file that is no longer there: ignore it; a writer moves it aside.
 */
export type JournalState = 'absent' | 'current' | 'stale' | 'foreign';

/** Applies one group's changes to an index, as Store.apply does. */
export function applyOps(ix: StoreIndex, ops: readonly Op[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case 'person': ix.addPerson(op[1]); break;
      case 'request': ix.addRecord('request', op[1]); break;
      case 'note': ix.addNote(op[1]); break;
      case 'touch': ix.touchRecord(op[1], op[2]); break;
      case 'notification': ix.addNotification(op[1]); break;
      case 'auto_reply': ix.addAutoReply(op[1]); break;
      case 'inbound': ix.addInbound(op[1]); break;
    }
  }
}

const OP_COLLECTION: Record<Exclude<Op[0], 'touch'>, string> = {
  person: 'people', request: 'requests', note: 'notes', notification: 'notifications', auto_reply: 'auto_replies', inbound: 'inbound',
};

/**
 * Applies groups to store data read as plain JSON (check-config, outbox --send, copy-store):
 * the same rows, in the same places, as a fold writes them (a collection the file lacks is
 * added at the end, as Store.open adds it).
 */
export function applyToData(data: Record<string, unknown>, groups: readonly JournalGroup[]): void {
  if (!groups.length) return;
  for (const c of ARRAY_COLLECTIONS) if (!Array.isArray(data[c])) data[c] = [];
  for (const { ops } of groups) {
    for (const op of ops) {
      if (op[0] !== 'touch') { (data[OP_COLLECTION[op[0]]] as unknown[]).push(op[1]); continue; }
      const [, ref, at] = op;
      const list = data[COLLECTION[ref.type]] as Record<string, unknown>[] | undefined;
      // The index finds the last row with that ID: so does this.
      for (let i = (list?.length ?? 0) - 1; i >= 0; i--) {
        const rec = list![i]!;
        if (rec.id !== ref.id) continue;
        if ('updated_at' in rec) rec.updated_at = at;
        break;
      }
    }
  }
}

/** What `<store>.journal` holds, read against the store file `file` (its FileId as read). */
export interface JournalRead {
  state: JournalState;
  groups: JournalGroup[];
  /** Bytes up to the end of the last whole line: an append starts there. */
  validBytes: number;
}

function readAll(path: string): { bytes: Buffer; ino: bigint; size: number } | null {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    const bytes = Buffer.allocUnsafe(Number(st.size));
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, bytes.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: bytes.subarray(0, got), ino: st.ino, size: got };
  } finally {
    closeSync(fd);
  }
}

/** Reads `<store>.journal` against the store file's FileId `file`. Throws only on an I/O error. */
export function readJournal(store: string, file: FileId): JournalRead & { ino: bigint | null; size: number } {
  const got = readAll(journalPath(store));
  if (!got) return { state: 'absent', groups: [], validBytes: 0, ino: null, size: 0 };
  const { bytes } = got;
  let header: FileId | undefined;
  const groups: JournalGroup[] = [];
  const folded: FileId[] = [];
  let at = 0;
  while (at < bytes.length) {
    const nl = bytes.indexOf(10, at);
    if (nl < 0) break;
    let v: { m4me_journal?: number; store?: FileId; folded?: FileId; ops?: Op[]; log?: LogLine[] };
    try { v = JSON.parse(bytes.toString('utf8', at, nl)); } catch { break; }
    if (typeof v !== 'object' || v === null) break;
    if (!header) {
      if (v.m4me_journal !== VERSION || typeof v.store !== 'object' || v.store === null) break;
      header = v.store;
    } else if (v.folded) {
      folded.push(v.folded);
    } else if (Array.isArray(v.ops)) {
      groups.push({ ops: v.ops, log: Array.isArray(v.log) ? v.log : [] });
    } else {
      break;
    }
    at = nl + 1;
  }
  const base = { ino: got.ino, size: got.size };
  if (!header) {
    // Nothing readable: empty (nothing to keep), or not a journal m4me wrote (kept aside).
    return { state: bytes.length ? 'foreign' : 'stale', groups: [], validBytes: 0, ...base };
  }
  if (sameId(header, file)) return { state: 'current', groups, validBytes: at, ...base };
  if (folded.some((f) => sameId(f, file))) return { state: 'stale', groups: [], validBytes: 0, ...base };
  return { state: 'foreign', groups: [], validBytes: 0, ...base };
}

/**
 * For readers of the store file as plain JSON, without the lock: `read()` (which reads the
 * file) and the journal that extends that file, read again when a fold replaced the file in
 * between (then the journal read belongs to another version).
 */
export function readWithJournal<T>(store: string, read: () => T): { value: T; journal: JournalRead } {
  const version = () => {
    const st = statSync(store, { bigint: true });
    return { id: fileIdOf(st), all: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` };
  };
  for (let attempt = 1; ; attempt++) {
    const before = version();
    const value = read();
    const journal = readJournal(store, before.id);
    if (attempt >= 5 || version().all === before.all) return { value, journal };
  }
}

/** The text of a group's line: its changes and its delivery log lines (each already JSON). */
export function groupLine(ops: readonly Op[], logLines: readonly string[]): string {
  const log = logLines.map((l) => (l.endsWith('\n') ? l.slice(0, -1) : l)).join(',');
  return `{"ops":${JSON.stringify(ops)},"log":[${log}]}\n`;
}

const fdatasyncAsync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));

/**
 * The journal of one store, as the process that holds the store's lock sees it: read at
 * open (`readJournal`), appended to by serve, marked and removed by a fold. Every method
 * runs under the store's lock.
 */
export class Journal {
  state: JournalState;
  groups: JournalGroup[];
  private validBytes: number;
  /** The journal's own inode and size as this process left it (another serve's append changes them). */
  private ino: bigint | null;
  private size: number;
  private fd: number | null = null;

  constructor(readonly store: string, read: ReturnType<typeof readJournal>) {
    this.state = read.state;
    this.groups = read.groups;
    this.validBytes = read.validBytes;
    this.ino = read.ino;
    this.size = read.size;
  }

  get path(): string { return journalPath(this.store); }

  /** Bytes of committed groups (what a fold would take in). */
  get bytes(): number { return this.state === 'current' ? this.validBytes : 0; }

  /** Whether the journal on disk is no longer as this process read or left it (another process appended, folded or removed it). One stat. */
  changed(): boolean {
    let st;
    try { st = statSync(this.path, { bigint: true }); } catch { return this.ino !== null; }
    return st.ino !== this.ino || Number(st.size) !== this.size;
  }

  /**
   * Appends one group's line and syncs it: the commit. `file` is the store file it extends;
   * `syncStore` syncs that file (a journal is started only on a store whose identity is on
   * the disk). A journal that is not current is replaced by a new one (temporary file,
   * synced, renamed, folder synced). A torn last line is cut away first. On an error the
   * journal is cut back to what it was (best effort) and the error thrown.
   */
  async append(line: string, file: FileId, syncStore: () => void): Promise<void> {
    const bytes = Buffer.from(line);
    if (this.state !== 'current') {
      syncStore();
      const header = Buffer.from(`${JSON.stringify({ m4me_journal: VERSION, store: file })}\n`);
      const tmp = tempName(this.path);
      const fd = openSync(tmp, 'wx', fileMode());
      try {
        writeAll(fd, Buffer.concat([header, bytes]));
        fsyncSync(fd);
        renameSync(tmp, this.path);
      } catch (err) {
        closeSync(fd);
        try { unlinkSync(tmp); } catch { /* not there */ }
        throw err;
      }
      closeSync(fd);
      this.closeFd();
      // From here the journal is the one on disk, whether or not the folder's sync succeeds.
      this.state = 'current';
      this.groups = [];
      this.validBytes = header.length + bytes.length;
      this.size = this.validBytes;
      this.ino = statSync(this.path, { bigint: true }).ino;
      syncDir(dirname(this.path));
      return;
    }
    if (this.fd === null) this.fd = openSync(this.path, 'a');
    const fd = this.fd;
    const before = this.validBytes;
    try {
      if (this.size !== before) ftruncateSync(fd, before);
      this.size = before;
      writeAll(fd, bytes);
      this.size = before + bytes.length;
      await fdatasyncAsync(fd);
    } catch (err) {
      try {
        ftruncateSync(fd, before);
        this.size = before;
      } catch { /* the next load reads what is there */ }
      throw err;
    }
    this.validBytes = this.size;
  }

  /** Before a fold renames the new store file `into` into place: the marker, synced. */
  markFolded(into: FileId): void {
    if (this.state !== 'current') return;
    if (this.fd === null) this.fd = openSync(this.path, 'a');
    if (this.size !== this.validBytes) ftruncateSync(this.fd, this.validBytes);
    const b = Buffer.from(`${JSON.stringify({ folded: into })}\n`);
    writeAll(this.fd, b);
    this.size = this.validBytes + b.length;
    this.validBytes = this.size;
    fdatasyncSync(this.fd);
  }

  /**
   * After a fold: the journal goes (not synced: should the unlink be lost, its marker says
   * it is folded). Also what a writer does with a stale journal.
   */
  remove(): void {
    this.closeFd();
    if (this.state !== 'absent') {
      try { unlinkSync(this.path); } catch { /* gone */ }
    }
    this.forget();
  }

  /** A foreign journal is kept under another name (returned), out of the way of the next one. */
  setAside(): string {
    this.closeFd();
    const stamp = new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14);
    const aside = `${this.path}.${stamp}.orphaned`;
    renameSync(this.path, aside);
    syncDir(dirname(this.path));
    this.forget();
    return aside;
  }

  private forget(): void {
    this.state = 'absent';
    this.groups = [];
    this.validBytes = 0;
    this.ino = null;
    this.size = 0;
  }

  close(): void { this.closeFd(); }

  private closeFd(): void {
    if (this.fd !== null) { close(this.fd, () => undefined); this.fd = null; }
  }
}

function writeAll(fd: number, b: Buffer): void {
  for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
}

/**
 * The store file on disk: read whole, or through its saved index; written by copying
 * unchanged rows from the current file and serialising the rest.
 *
 * The document m4me writes is `JSON.stringify` of the store, byte for byte. Beside a large
 * store (SAVED_INDEX_MIN_BYTES and up) it keeps `<store>.index`: where every top-level value
 * and every row of the collections is in the file, and the lookups over the big collections.
 * The saved index names the file it describes by device, inode, size and modification and
 * change times (nanoseconds): when any of them differ (the store was edited, restored,
 * replaced), the index is ignored and the store read whole, so it can never disagree with
 * the file. With it, a delivery parses only the small reference collections and the rows its
 * lookups return, instead of the whole document.
 */
import { close, closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, type Stats, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseJsonBytes } from './big-json.js';
import { syncDir, tempName } from './durable.js';
import { type FileId, fileIdOf } from './journal.js';
import { type Collection, IndexSource, RESIDENT, type SavedLookups, type Tables } from './indexes.js';
import { ARRAY_COLLECTIONS, type StoreData } from './schema.js';
import { type Places, type RowReader, type RowWriter, Table } from './table.js';
import { Utf8Chunks } from './utf8-chunks.js';

/** A store at least this large gets a saved index (smaller ones are read whole in a few ms). */
export const SAVED_INDEX_MIN_BYTES = 1 << 20;
const SAVED_INDEX_VERSION = 4;
const COLLECTIONS = new Set<string>(ARRAY_COLLECTIONS);

/** Identity of one version of the store file. */
interface Stamp { dev: string; ino: string; size: string; mtimeNs: string; ctimeNs: string }

/** A top-level value of the document: a collection (Table) or anything else (kept as it is). */
type Entry =
  | { name: string; table: Table; start: number; end: number }
  | { name: string; table: null; start: number; end: number; value?: unknown };

/**
 * The saved index: one line of JSON (this header), then the text of every lookup map, one
 * after the other (`sections` says where each is in that text).
 */
interface SavedIndexHeader {
  m4me_index: number;
  stamp: Stamp;
  /** name, value start, value end, 1 for a collection. */
  entries: [string, number, number, number][];
  /** Per collection: the offset of its `]`, then row offsets as differences. */
  places: Record<string, number[]>;
  rows: SavedLookups['rows'];
  maxRecordId: number;
  maxNoteId: number;
  sections: Record<string, [number, number]>;
}
type SavedIndex = SavedIndexHeader & { lookups: SavedLookups };

const stampOf = (st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): Stamp => ({
  dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs),
});
const sameStamp = (a: Stamp, b: Stamp) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;

export class StoreFile implements RowReader {
  private fd: number | null = null;
  private scratch = Buffer.allocUnsafe(1 << 16);
  private entries: Entry[] = [];
  /** The file as it is on disk is exactly what the entries describe (false for a store read whole). */
  private laidOut = false;
  private stamp: Stamp | null = null;
  private size = 0;
  /** The saved index beside the store describes the file as it is. */
  private savedCurrent = false;
  /** The version of the file the tables hold (read or written by this process), for `changedOnDisk`. */
  private seen: Stamp | null = null;
  /** The same version as a journal names it (./journal.ts). */
  private seenId: FileId | null = null;

  constructor(readonly path: string) {}

  get indexPath(): string { return `${this.path}.index`; }

  /**
   * Opens the store: through the saved index when it describes the file, else by reading and
   * parsing the whole document. Returns what to build the StoreIndex from.
   * Throws SyntaxError (not JSON), `{ problems }` (not a store) or the I/O error.
   */
  open(check: (data: unknown) => string[]): { source: IndexSource } {
    const st = statSync(this.path, { bigint: true });
    const stamp = stampOf(st);
    // Stamped before reading: a file replaced meanwhile only makes changedOnDisk true.
    this.seen = stamp;
    this.seenId = fileIdOf(st);
    const saved = this.readSavedIndex(stamp);
    if (saved) {
      try {
        return { source: this.openLaidOut(saved, stamp) };
      } catch {
        this.closeFd();
        this.entries = [];
        /* unreadable as laid out (it should not happen): read it whole */
      }
    }
    return { source: this.openWhole(check) };
  }

  private openLaidOut(saved: SavedIndex, stamp: Stamp): IndexSource {
    this.fd = openSync(this.path, 'r');
    // Replaced since the stat (a reader beside a writer): the index describes another file.
    if (!sameStamp(stampOf(fstatSync(this.fd, { bigint: true })), stamp)) throw new Error('store replaced while opened');
    const tables = {} as Tables;
    for (const [name, start, end, isTable] of saved.entries) {
      if (!isTable) { this.entries.push({ name, table: null, start, end }); continue; }
      const c = name as Collection;
      const resident = RESIDENT.has(c);
      const rows = resident ? JSON.parse(this.read(start, end)) as Record<string, unknown>[] : null;
      const table = new Table(c, rows, this, resident);
      const p = saved.places[c]!;
      if (rows && rows.length !== p.length - 1) throw new Error(`saved index disagrees on ${c}`);
      const starts: number[] = new Array(p.length - 1);
      let at = 0;
      for (let i = 1; i < p.length; i++) { at += p[i]!; starts[i - 1] = at; }
      table.place({ starts, arrayEnd: p[0]! });
      tables[c] = table;
      this.entries.push({ name, table, start, end });
    }
    for (const c of ARRAY_COLLECTIONS) if (!tables[c]) throw new Error(`saved index without ${c}`);
    this.laidOut = true;
    this.stamp = stamp;
    this.size = Number(stamp.size);
    this.savedCurrent = true;
    return new IndexSource(tables, saved.lookups);
  }

  private openWhole(check: (data: unknown) => string[]): IndexSource {
    const bytes = readFileSync(this.path);
    // Past V8's longest string the document is read row by row from its bytes.
    const data = parseJsonBytes(bytes) as StoreData;
    const problems = check(data);
    if (problems.length) throw Object.assign(new Error('not a store'), { problems });
    for (const c of ARRAY_COLLECTIONS) (data as Record<string, unknown>)[c] ??= [];
    const tables = {} as Tables;
    for (const [name, value] of Object.entries(data)) {
      if (value === undefined) continue;
      if (COLLECTIONS.has(name)) {
        const c = name as Collection;
        tables[c] = new Table(c, value as Record<string, unknown>[], this, RESIDENT.has(c));
        this.entries.push({ name, table: tables[c], start: 0, end: 0 });
      } else {
        this.entries.push({ name, table: null, start: 0, end: 0, value });
      }
    }
    this.laidOut = false;
    return new IndexSource(tables, null);
  }

  /** The top-level values other than the collections, in document order (collections as null). */
  values(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const e of this.entries) {
      if (e.table) out[e.name] = null;
      else out[e.name] = 'value' in e ? e.value : JSON.parse(this.read(e.start, e.end));
    }
    return out;
  }

  /** The version of the file this process read or wrote last, as a journal names it (null after replaceWith). */
  get fileId(): FileId | null { return this.seenId; }

  /** Syncs the store file as it is (a journal is started only on a file whose identity is on the disk). */
  sync(): void {
    const fd = openSync(this.path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  }

  /** Whether writing now would change the file (or put it in the layout m4me writes). */
  get needsWrite(): boolean {
    return !this.laidOut || this.entries.some((e) => e.table?.changed);
  }

  /** Reads up to `len` bytes at `pos` of the current file into `buf`; returns how many. */
  readAt(buf: Buffer, len: number, pos: number): number {
    if (this.fd === null) this.fd = openSync(this.path, 'r');
    return readSync(this.fd, buf, 0, len, pos);
  }

  read(start: number, end: number): string {
    if (this.fd === null) this.fd = openSync(this.path, 'r');
    const len = end - start;
    if (this.scratch.length < len) this.scratch = Buffer.allocUnsafe(Math.max(len, this.scratch.length * 2));
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, this.scratch, got, len - got, start + got);
      if (n === 0) throw new Error(`store ${this.path}: shorter than its index says`);
      got += n;
    }
    return this.scratch.toString('utf8', 0, len);
  }

  /**
   * Replaces the whole document by `text` (m4me compact), as `write` does: temporary file with
   * the old mode and owner, synced, `beforeCommit`, renamed, folder synced. The rows this
   * process read describe the old file: it writes nothing more (no saved index) after this.
   */
  replaceWith(text: string, beforeCommit: () => void, beforeRename?: (into: FileId) => void): void {
    const tmp = tempName(join(dirname(this.path), `.${basename(this.path)}`));
    const old = statSync(this.path);
    const fd = openSync(tmp, 'wx');
    try {
      const b = Buffer.from(text);
      for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
      keepModeAndOwner(fd, old);
      fsyncSync(fd);
      const into = fileIdOf(fstatSync(fd, { bigint: true }));
      closeSync(fd);
      beforeCommit();
      beforeRename?.(into);
      renameSync(tmp, this.path);
    } catch (err) {
      try { closeSync(fd); } catch { /* closed */ }
      try { unlinkSync(tmp); } catch { /* not there */ }
      throw err;
    }
    syncDir(dirname(this.path));
    this.laidOut = false;
    this.seen = null;
    this.seenId = null;
    try { unlinkSync(this.indexPath); } catch { /* none */ }
  }

  /**
   * Writes the document to a temporary file beside the store and renames it over the store.
   * Before the rename the new file gets the old one's mode and owner and its bytes are synced,
   * and `beforeCommit` runs (the lock check: it throws when another process holds the lock now),
   * then `beforeRename` with the new file's identity (a journal's fold marker); after it, the
   * folder is synced. Tables learn their new places only once the rename is done;
   * on any error nothing changes and the temporary file is removed.
   */
  write(opts: { fault?: () => void; beforeCommit?: () => void; beforeRename?: (into: FileId) => void; progress?: () => void } = {}): void {
    const tmp = tempName(join(dirname(this.path), `.${basename(this.path)}`));
    const old = statSync(this.path);
    const out = new FileWriter(tmp, this, opts.progress);
    const placed: [Table, Places][] = [];
    const ranges: [number, number][] = [];
    try {
      opts.fault?.();
      out.text('{');
      this.entries.forEach((e, n) => {
        out.text(`${n ? ',' : ''}${JSON.stringify(e.name)}:`);
        const start = out.offset;
        if (e.table) placed.push([e.table, e.table.emit(out)]);
        else if (this.laidOut) out.copy(e.start, e.end);
        else out.text(JSON.stringify(e.value));
        ranges.push([start, out.offset]);
      });
      out.text('}');
      const into = out.close(old);
      opts.beforeCommit?.();
      opts.beforeRename?.(into);
      renameSync(tmp, this.path);
    } catch (err) {
      out.abort();
      try { unlinkSync(tmp); } catch { /* not there */ }
      throw err;
    }
    syncDir(dirname(this.path));
    // The new file is in place: everything refers to it from now on. The old one goes with
    // the last descriptor on it: closed in the background, as freeing its blocks takes a while.
    if (this.fd !== null) close(this.fd, () => undefined);
    this.fd = openSync(this.path, 'r');
    const st = fstatSync(this.fd, { bigint: true });
    this.stamp = stampOf(st);
    this.seen = this.stamp;
    this.seenId = fileIdOf(st);
    this.size = Number(st.size);
    this.entries.forEach((e, n) => {
      e.start = ranges[n]![0];
      e.end = ranges[n]![1];
      if (!e.table) delete (e as { value?: unknown }).value;
    });
    for (const [table, p] of placed) {
      table.place(p);
      table.settle();
    }
    this.laidOut = true;
    this.savedCurrent = false;
  }

  /**
   * Saves the index beside the store, for the next process: only for a large store (or one
   * that has it already), only when the file is as the tables describe it. Best effort: a
   * store without a usable saved index is simply read whole.
   */
  saveIndex(lookups: () => SavedLookups): void {
    if (!this.laidOut || this.savedCurrent || !this.stamp || this.needsWrite) return;
    let exists = false;
    try { statSync(this.indexPath); exists = true; } catch { /* none yet */ }
    if (!exists && this.size < SAVED_INDEX_MIN_BYTES) return;
    const places: Record<string, number[]> = {};
    for (const e of this.entries) {
      if (!e.table) continue;
      const { starts, arrayEnd } = e.table.places;
      const p: number[] = new Array(starts.length + 1);
      p[0] = arrayEnd;
      let at = 0;
      for (let i = 0; i < starts.length; i++) { p[i + 1] = starts[i]! - at; at = starts[i]!; }
      places[e.name] = p;
    }
    const lk = lookups();
    const sections: Record<string, [number, number]> = {};
    let at = 0;
    const pieces = Object.entries(lk.sections).map(([name, t]) => [name, typeof t === 'string' ? [t] : t] as const);
    for (const [name, text] of pieces) {
      const length = text.reduce((n, p) => n + p.length, 0);
      sections[name] = [at, at + length];
      at += length;
    }
    const header: SavedIndexHeader = {
      m4me_index: SAVED_INDEX_VERSION, stamp: this.stamp,
      entries: this.entries.map((e) => [e.name, e.start, e.end, e.table ? 1 : 0]),
      places, rows: lk.rows, maxRecordId: lk.maxRecordId, maxNoteId: lk.maxNoteId, sections,
    };
    const tmp = tempName(this.indexPath);
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, `${JSON.stringify(header)}\n`);
        for (const [, text] of pieces) for (const p of text) writeSync(fd, p);
      } finally { closeSync(fd); }
      renameSync(tmp, this.indexPath);
      this.savedCurrent = true;
    } catch {
      try { unlinkSync(tmp); } catch { /* not there */ }
    }
  }

  /**
   * Whether the file on disk is another version than the one this process read or wrote last
   * (another process wrote it, or it was restored): then what this process holds is out of
   * date (`m4me serve` reloads it). Costs one stat.
   */
  changedOnDisk(): boolean {
    if (!this.seen) return true;
    try {
      return !sameStamp(this.seen, stampOf(statSync(this.path, { bigint: true })));
    } catch {
      return true;
    }
  }

  close(): void { this.closeFd(); }

  private closeFd(): void {
    if (this.fd !== null) { try { closeSync(this.fd); } catch { /* already closed */ } this.fd = null; }
  }

  private readSavedIndex(stamp: Stamp): SavedIndex | null {
    let text: string;
    try { text = readFileSync(this.indexPath, 'utf8'); } catch { return null; }
    try {
      const nl = text.indexOf('\n');
      const header = JSON.parse(text.slice(0, nl)) as SavedIndexHeader;
      if (header?.m4me_index !== SAVED_INDEX_VERSION || !header.stamp || !sameStamp(header.stamp, stamp)) return null;
      const body = text.slice(nl + 1);
      const sections: Record<string, string> = {};
      for (const [name, [a, b]] of Object.entries(header.sections)) {
        if (b > body.length) return null;
        sections[name] = body.slice(a, b);
      }
      return { ...header, lookups: { rows: header.rows, maxRecordId: header.maxRecordId, maxNoteId: header.maxNoteId, sections } };
    } catch {
      return null;
    }
  }
}

/** Buffered writes to a new file, with copies of byte ranges of the current store file. */
class FileWriter implements RowWriter {
  private fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  /** Rows are encoded into `buf`, written a full chunk at a time. */
  private chunks = new Utf8Chunks(this.buf, (b) => this.put(b, b.length));
  offset = 0;

  constructor(path: string, private readonly from: StoreFile, private readonly progress?: () => void) {
    this.fd = openSync(path, 'wx');
  }

  text(s: string): void {
    this.offset += this.chunks.text(s);
  }

  copy(start: number, end: number): void {
    this.flush();
    for (let at = start; at < end;) {
      const n = this.from.readAt(this.buf, Math.min(this.buf.length, end - at), at);
      if (n === 0) throw new Error(`store ${this.from.path} changed while it was being written`);
      this.put(this.buf, n);
      at += n;
    }
    this.offset += end - start;
  }

  /** Flushes, gives the file `like`'s mode and owner, syncs it to the disk and closes it; returns its identity. */
  close(like: Stats): FileId {
    this.flush();
    keepModeAndOwner(this.fd, like);
    fsyncSync(this.fd);
    const id = fileIdOf(fstatSync(this.fd, { bigint: true }));
    closeSync(this.fd);
    this.fd = -1;
    return id;
  }

  abort(): void {
    if (this.fd >= 0) { try { closeSync(this.fd); } catch { /* closed */ } this.fd = -1; }
  }

  private flush(): void {
    this.chunks.flush();
  }

  /** Writes; a store of hundreds of MB takes a while, so the lock is refreshed after each write. */
  private put(b: Buffer, len: number): void {
    for (let at = 0; at < len;) at += writeSync(this.fd, b, at, len - at);
    this.progress?.();
  }
}

/**
 * The new store file gets the mode and the owner of the one it replaces: a delivery (or an
 * operator running m4me as root) must not leave a store its owner can no longer write, or
 * one others can suddenly read. An owner this process cannot give it is an error (the
 * caller defers); only a group it cannot give is let go, as the mode still applies.
 */
function keepModeAndOwner(fd: number, like: Stats): void {
  const st = fstatSync(fd);
  if ((st.mode & 0o7777) !== (like.mode & 0o7777)) fchmodSync(fd, like.mode & 0o7777);
  if (st.uid === like.uid && st.gid === like.gid) return;
  try {
    fchownSync(fd, like.uid, like.gid);
  } catch (err) {
    if (st.uid === like.uid) return;
    throw Object.assign(new Error(`it belongs to uid ${like.uid} and this process (uid ${st.uid}) cannot give the new file that owner: run m4me as the store's owner`), { cause: err });
  }
}

/**
 * One array collection of the store file (`requests`, `notes`, `inbound`, …) as rows.
 *
 * A row is either in memory (new or changed since the file was written, or read recently) or
 * only in the file, where `starts` says at which byte it begins: rows are written as compact
 * JSON, one comma apart, so a row ends where the next begins (less the comma) and the last
 * one where the array ends. A row that is only in the file is read (one pread) and parsed
 * when it is asked for, and kept in a small cache. So a store of any size costs memory for
 * its indexes, not for its records, and a write copies unchanged rows byte for byte.
 *
 * Small tables (accounts, people, teams, …) are `resident`: every row stays parsed.
 */
export interface RowReader {
  /** The text of bytes [start, end) of the store file as it is on disk. */
  read(start: number, end: number): string;
}

/** Where the writer is: the byte offset in the new file, and how to put bytes there. */
export interface RowWriter {
  readonly offset: number;
  /** Bytes [start, end) of the current store file. */
  copy(start: number, end: number): void;
  text(s: string): void;
}

/** The places of a table's rows in a file: row offsets and the offset of its closing `]`. */
export interface Places { starts: number[]; arrayEnd: number }

/** Rows kept parsed after a read, per table: enough for the records a batch keeps coming back to. */
const CACHE_ROWS = 1024;

export class Table<T extends object = Record<string, unknown>> {
  /** Rows not (or not as they are now) in the file: new, or changed since the last write. */
  private pending = new Map<number, T>();
  /** Rows read from the file, most recently used last. */
  private cache = new Map<number, T>();
  /** Every row in memory: resident tables, and every table of a store read whole. */
  private rows: T[] | null;
  /** Byte offset of each row in the file, for rows 0 … fileRows-1. */
  private starts: number[] = [];
  private arrayEnd = 0;
  /** Whether the rows have known places in the file (false for a store read whole, until written). */
  private inFile = false;
  private n: number;

  constructor(readonly name: string, rows: T[] | null, private readonly reader: RowReader | null, readonly resident: boolean) {
    this.rows = rows;
    this.n = rows?.length ?? 0;
  }

  get count(): number { return this.n; }

  /** Anything to write: rows new or changed since the file was written, or no place in it yet. */
  get changed(): boolean { return !this.inFile || this.pending.size > 0; }

  get places(): Places { return { starts: this.starts, arrayEnd: this.arrayEnd }; }

  /** The rows are in the file at these places (after reading a layout, or after a write). */
  place(p: Places): void {
    this.starts = p.starts;
    this.arrayEnd = p.arrayEnd;
    this.inFile = true;
    if (this.rows === null) this.n = Math.max(this.n, p.starts.length);
  }

  /** After a write (placed): rows in memory are in the file now; only resident tables keep them all. */
  settle(): void {
    if (!this.resident) this.rows = null;
    if (!this.rows) {
      // Rows just changed are likely to be asked for again soon: keep them as read ones.
      for (const [i, row] of this.pending) this.remember(i, row);
    }
    this.pending.clear();
  }

  get(i: number): T {
    if (this.rows) return this.rows[i]!;
    const p = this.pending.get(i);
    if (p) return p;
    const c = this.cache.get(i);
    if (c) {
      this.cache.delete(i);
      this.cache.set(i, c);
      return c;
    }
    const row = this.load(i);
    this.remember(i, row);
    return row;
  }

  /** Appends a row; returns its position. */
  push(row: T): number {
    const i = this.n++;
    if (this.rows) this.rows.push(row);
    this.pending.set(i, row);
    return i;
  }

  /** Row `i` (an object `get` returned) was changed in place: write it. */
  touched(i: number, row: T): void {
    this.pending.set(i, row);
  }

  /** Every row, in order (reads the rows only in the file: for commands that show whole tables). */
  all(): T[] {
    if (this.rows) return this.rows;
    const out: T[] = new Array(this.n);
    if (this.starts.length && this.reader) {
      const parsed = JSON.parse(`[${this.reader.read(this.starts[0]!, this.arrayEnd)}]`) as T[];
      for (let i = 0; i < parsed.length; i++) out[i] = parsed[i]!;
    }
    for (const [i, row] of this.pending) out[i] = row;
    return out;
  }

  /**
   * Writes the array (`[`, rows, `]`) to `w`: runs of unchanged rows are copied from the current
   * file, the others serialised. Returns the places of the rows in the new file.
   */
  emit(w: RowWriter): Places {
    const starts: number[] = new Array(this.n);
    w.text('[');
    let first = true;
    const row = (i: number, value: T) => {
      if (!first) w.text(',');
      first = false;
      starts[i] = w.offset;
      w.text(JSON.stringify(value));
    };
    if (!this.inFile) {
      for (let i = 0; i < this.n; i++) row(i, this.rows![i]!);
    } else {
      const fileRows = this.starts.length;
      const copyRun = (from: number, to: number) => { // rows [from, to): unchanged, in the file
        if (to <= from) return;
        if (!first) w.text(',');
        first = false;
        const shift = w.offset - this.starts[from]!;
        for (let j = from; j < to; j++) starts[j] = this.starts[j]! + shift;
        w.copy(this.starts[from]!, to < fileRows ? this.starts[to]! - 1 : this.arrayEnd);
      };
      let next = 0;
      for (const i of [...this.pending.keys()].sort((a, b) => a - b)) {
        copyRun(next, Math.min(i, fileRows));
        row(i, this.pending.get(i)!);
        next = i + 1;
      }
      copyRun(next, fileRows);
    }
    const arrayEnd = w.offset;
    w.text(']');
    return { starts, arrayEnd };
  }

  private load(i: number): T {
    if (!this.inFile || i >= this.starts.length || !this.reader) {
      throw new Error(`store: row ${i} of ${this.name} is neither in memory nor in the file`);
    }
    const end = i + 1 < this.starts.length ? this.starts[i + 1]! - 1 : this.arrayEnd;
    return JSON.parse(this.reader.read(this.starts[i]!, end)) as T;
  }

  private remember(i: number, row: T): void {
    this.cache.set(i, row);
    if (this.cache.size > CACHE_ROWS) this.cache.delete(this.cache.keys().next().value!);
  }
}

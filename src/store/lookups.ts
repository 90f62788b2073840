/**
 * The lookup maps of the store index, able to start from a saved state (the JSON text of
 * their entries, parsed only when a lookup needs it) plus the changes made since.
 *
 * Each map takes one kind of change: `set` (the last one wins), `push` (appends to the key's
 * list) or `add` (a counter). A lookup combines the saved state with the changes exactly as
 * applying the changes to it would, so a map rebuilt as "saved state + changes since"
 * answers like one built from scratch.
 *
 * The maps over the big collections are keyed by a 31-bit hash of the lookup key, not the key
 * itself, and hold row positions: a number costs a fraction of the memory of a Message-ID or a
 * subject as a key. Different keys may share a hash, so the caller keeps only the rows whose
 * own key is the one looked up (it reads those rows anyway).
 */
type Key = string | number;

/** FNV-1a of the UTF-16 code units, 31 bits (a small integer for V8). */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 1;
}

/** Lookups answered from a saved map's text before it is parsed whole. */
const SEARCHES = 32;

abstract class Saved<K extends Key, V> {
  private parsed: Map<K, V> | null = null;

  constructor(private text: string | null) {}

  /** The saved state's text, as it was read (null: built from scratch). */
  get savedText(): string | null { return this.text; }

  /** The saved state, parsed on first use. */
  protected get base(): Map<K, V> | null {
    if (this.parsed === null && this.text !== null) this.parsed = new Map(JSON.parse(this.text) as [K, V][]);
    return this.parsed;
  }

  private searches = 0;

  /**
   * The saved value of `key`. The first few are found in the text (an entry is written as
   * `[key,value]`, the key as JSON.stringify writes it, which no other place of the text can
   * look like), so a single delivery never parses a whole map; after that the map is parsed.
   */
  protected saved(key: K): V | undefined {
    if (this.text === null) return undefined;
    if (this.parsed !== null || ++this.searches > SEARCHES) return this.base!.get(key);
    let at: number;
    let needle: string;
    if (typeof key === 'number') {
      // A number key could also begin a list value (`[7,[12,…]]`): an entry's key follows the
      // `[[` that opens the text, or the `],` that ends the entry before it.
      needle = `[${key},`;
      at = this.text.startsWith(`[${needle}`) ? 1 : this.text.indexOf(`],${needle}`);
      if (at > 1) at += 2;
    } else {
      needle = `[${JSON.stringify(key)},`;
      at = this.text.indexOf(needle);
    }
    if (at < 0) return undefined;
    // The value (a number, a list of numbers or a record reference) ends where the entry does.
    let depth = 1;
    let end = at + needle.length;
    for (; end < this.text.length; end++) {
      const c = this.text.charCodeAt(end);
      if (c === 0x5b || c === 0x7b) depth++;
      else if ((c === 0x5d || c === 0x7d) && --depth === 0) break;
    }
    return (JSON.parse(this.text.slice(at, end + 1)) as [K, V])[1];
  }

  /** Whether there are changes since the saved state (or no saved state). */
  abstract get changed(): boolean;

  /** Calls `add` for every entry, saved state and changes combined. */
  abstract forEach(add: (key: K, value: V) => void): void;

  /**
   * The JSON text of the entries (`[[key,value],…]`), in pieces of about 64 KB: the saved text
   * as it was when nothing changed. No copy of the map or list of its entries is made, so
   * saving a large index costs little more memory than its text.
   */
  toText(): string[] {
    if (!this.changed && this.text !== null) return [this.text];
    const out: string[] = [];
    let piece = '[';
    this.forEach((key, value) => {
      piece += `${piece.length > 1 || out.length ? ',' : ''}[${JSON.stringify(key)},${JSON.stringify(value)}]`;
      if (piece.length >= 1 << 16) { out.push(piece); piece = ''; }
    });
    out.push(`${piece}]`);
    return out;
  }
}

/** `set`: the last one wins (record IDs to row positions). */
export class ValueMap<K extends Key, V> extends Saved<K, V> {
  private sets = new Map<K, V>();

  get changed(): boolean { return this.sets.size > 0; }

  set(key: K, value: V): void { this.sets.set(key, value); }

  get(key: K): V | undefined {
    if (this.sets.has(key)) return this.sets.get(key);
    return this.saved(key);
  }

  forEach(add: (key: K, value: V) => void): void {
    const base = this.base;
    if (base) for (const [key, v] of base) if (!this.sets.has(key)) add(key, v);
    for (const [key, v] of this.sets) add(key, v);
  }
}

/**
 * `push`: row positions (numbers) by the hash of a key, saved ones first, in the order they
 * were pushed. One position is kept as a number, several as a list.
 */
export class ListMap extends Saved<number, number | number[]> {
  private pushes = new Map<number, number | number[]>();

  get changed(): boolean { return this.pushes.size > 0; }

  push(key: string, value: number): void {
    const h = hashKey(typeof key === 'string' ? key : String(key));
    const list = this.pushes.get(h);
    if (list === undefined) this.pushes.set(h, value);
    else if (typeof list === 'number') this.pushes.set(h, [list, value]);
    else list.push(value);
  }

  /** Every position pushed under a key with the same hash as `key`. */
  get(key: string): readonly number[] {
    const h = hashKey(typeof key === 'string' ? key : String(key));
    const b = this.saved(h);
    const p = this.pushes.get(h);
    if (b === undefined) return p === undefined ? NONE : typeof p === 'number' ? [p] : p;
    const saved = typeof b === 'number' ? [b] : b;
    return p === undefined ? saved : [...saved, ...(typeof p === 'number' ? [p] : p)];
  }

  forEach(add: (key: number, value: number | number[]) => void): void {
    const base = this.base;
    const join = (a: number | number[], b: number | number[]) => [...(typeof a === 'number' ? [a] : a), ...(typeof b === 'number' ? [b] : b)];
    if (base) for (const [key, list] of base) { const p = this.pushes.get(key); add(key, p === undefined ? list : join(list, p)); }
    for (const [key, list] of this.pushes) if (!base?.has(key)) add(key, list);
  }
}

const NONE: readonly number[] = Object.freeze([]);

/** `add`: counters. */
export class CountMap<K extends Key> extends Saved<K, number> {
  private adds = new Map<K, number>();

  get changed(): boolean { return this.adds.size > 0; }

  add(key: K, n: number): void { this.adds.set(key, (this.adds.get(key) ?? 0) + n); }

  get(key: K): number { return (this.saved(key) ?? 0) + (this.adds.get(key) ?? 0); }

  forEach(add: (key: K, value: number) => void): void {
    const base = this.base;
    if (base) for (const [key, n] of base) add(key, n + (this.adds.get(key) ?? 0));
    for (const [key, n] of this.adds) if (!base?.has(key)) add(key, n);
  }
}

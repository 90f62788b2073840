/**
 * The lookup maps of the store index, able to start from a saved state (the JSON text of
 * their entries, parsed only when a lookup needs it) plus the changes made since.
 *
 * Each map takes one kind of change: `set` (the last one wins), `setIfAbsent` (only when the
 * key has no value), `push` (appends to the key's list) or `add` (a counter). A lookup
 * combines the saved state with the changes exactly as applying the changes to it would, so
 * a map rebuilt as "saved state + changes since" answers like one built from scratch.
 */
type Key = string | number;

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

  /** Whether there are changes since the saved state (or no saved state). */
  abstract get changed(): boolean;

  /** Every entry, saved state and changes combined. */
  abstract entries(): [K, V][];

  /** The JSON text of the entries: the saved text as it was when nothing changed. */
  toText(): string {
    if (!this.changed && this.text !== null) return this.text;
    return JSON.stringify(this.entries());
  }
}

/** `set` and `setIfAbsent`: the last `set` wins; `setIfAbsent` counts only for a key with no value. */
export class ValueMap<K extends Key, V> extends Saved<K, V> {
  private sets = new Map<K, V>();
  private firsts = new Map<K, V>();

  get changed(): boolean { return this.sets.size > 0 || this.firsts.size > 0; }

  set(key: K, value: V): void { this.sets.set(key, value); }

  setIfAbsent(key: K, value: V): void {
    if (this.sets.has(key) || this.firsts.has(key)) return;
    // Whether the saved state has it is resolved when the key is looked up.
    this.firsts.set(key, value);
  }

  get(key: K): V | undefined {
    if (this.sets.has(key)) return this.sets.get(key);
    const b = this.base;
    if (b?.has(key)) return b.get(key);
    return this.firsts.get(key);
  }

  has(key: K): boolean { return this.sets.has(key) || !!this.base?.has(key) || this.firsts.has(key); }

  entries(): [K, V][] {
    const out = new Map(this.base ?? []);
    for (const [key, v] of this.firsts) if (!out.has(key)) out.set(key, v);
    for (const [key, v] of this.sets) out.set(key, v);
    return [...out];
  }
}

/** `push`: lists of row positions, saved ones first. */
export class ListMap<K extends Key> extends Saved<K, number[]> {
  private pushes = new Map<K, number[]>();

  get changed(): boolean { return this.pushes.size > 0; }

  push(key: K, value: number): void {
    const list = this.pushes.get(key);
    if (list) list.push(value); else this.pushes.set(key, [value]);
  }

  get(key: K): readonly number[] | undefined {
    const b = this.base?.get(key);
    const p = this.pushes.get(key);
    return b && p ? [...b, ...p] : b ?? p;
  }

  entries(): [K, number[]][] {
    const out = new Map(this.base ?? []);
    for (const [key, list] of this.pushes) out.set(key, [...(out.get(key) ?? []), ...list]);
    return [...out];
  }
}

/** `add`: counters. */
export class CountMap<K extends Key> extends Saved<K, number> {
  private adds = new Map<K, number>();

  get changed(): boolean { return this.adds.size > 0; }

  add(key: K, n: number): void { this.adds.set(key, (this.adds.get(key) ?? 0) + n); }

  get(key: K): number { return (this.base?.get(key) ?? 0) + (this.adds.get(key) ?? 0); }

  entries(): [K, number][] {
    const out = new Map(this.base ?? []);
    for (const [key, n] of this.adds) out.set(key, (out.get(key) ?? 0) + n);
    return [...out];
  }
}

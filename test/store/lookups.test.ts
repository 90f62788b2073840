/**
 * The lookup maps of the store index (src/store/lookups.ts): a map rebuilt from its saved
 * text plus the changes since answers exactly like one built from scratch, and keys that
 * share a 31-bit hash are both returned (the caller keeps the rows whose own key matches).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { CountMap, hashKey, ListMap, ValueMap } from '../../src/store/lookups.js';

/** Two different keys with the same hashKey, found by search (a birthday collision comes within ~50k keys). */
function collidingPair(make: (i: number) => string): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const s = make(i);
    const h = hashKey(s);
    const other = seen.get(h);
    if (other !== undefined) return [other, s];
    seen.set(h, s);
  }
}

const keyArb = fc.oneof(fc.constantFrom('a', 'b', 'ab', '"a"', '[1,', '],[', '1', '12'), fc.string({ maxLength: 6 }));
const numKeyArb = fc.integer({ min: 0, max: 40 });

describe('lookups', () => {
  test('hash collisions: a ListMap returns the positions of every key sharing the hash, saved or not', () => {
    const [a, b] = collidingPair((i) => `n${i}@widget.example`);
    expect(a).not.toBe(b);
    expect(hashKey(a)).toBe(hashKey(b));
    const m = new ListMap(null);
    m.push(a, 1);
    m.push(b, 2);
    expect(m.get(a)).toEqual([1, 2]);
    expect(m.get(b)).toEqual([1, 2]);
    const saved = new ListMap(m.toText().join(''));
    saved.push(b, 3);
    expect(saved.get(a)).toEqual([1, 2, 3]);
    expect(saved.get(`${a}x`)).toEqual([]);
  });

  test('ValueMap: saved text + later sets answers like a map built from scratch (string and number keys)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.oneof(keyArb, numKeyArb), fc.oneof(fc.integer({ min: 0, max: 99 }), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 })))),
      fc.nat(),
      (ops, cut) => {
        const at = ops.length ? cut % (ops.length + 1) : 0;
        const scratch = new ValueMap<string | number, unknown>(null);
        for (const [k, v] of ops) scratch.set(k, v);
        const first = new ValueMap<string | number, unknown>(null);
        for (const [k, v] of ops.slice(0, at)) first.set(k, v);
        const rebuilt = new ValueMap<string | number, unknown>(first.toText().join(''));
        for (const [k, v] of ops.slice(at)) rebuilt.set(k, v);
        // Ask for every key, and for keys that occur inside values (`[7,[12,…]]`).
        for (const k of [...ops.map(([key]) => key), 0, 1, 12, 40, 'x']) expect(rebuilt.get(k)).toEqual(scratch.get(k));
        const entries = (m: ValueMap<string | number, unknown>) => { const e: [unknown, unknown][] = []; m.forEach((k, v) => e.push([k, v])); return new Map(e); };
        expect(entries(rebuilt)).toEqual(entries(scratch));
      },
    ), { seed: 20261203, numRuns: 300 });
  });

  test('ListMap and CountMap: saved text + later changes answers like a map built from scratch', () => {
    fc.assert(fc.property(fc.array(fc.tuple(keyArb, fc.integer({ min: 0, max: 50 }))), fc.nat(), (ops, cut) => {
      const at = ops.length ? cut % (ops.length + 1) : 0;
      const lists = new ListMap(null);
      const counts = new CountMap<string>(null);
      for (const [k, v] of ops) { lists.push(k, v); counts.add(k, v); }
      const l1 = new ListMap(null);
      const c1 = new CountMap<string>(null);
      for (const [k, v] of ops.slice(0, at)) { l1.push(k, v); c1.add(k, v); }
      const l2 = new ListMap(l1.toText().join(''));
      const c2 = new CountMap<string>(c1.toText().join(''));
      for (const [k, v] of ops.slice(at)) { l2.push(k, v); c2.add(k, v); }
      for (const [k] of [...ops, ['zz', 0] as const]) {
        expect(l2.get(k)).toEqual(lists.get(k));
        expect(c2.get(k)).toBe(counts.get(k));
      }
    }), { seed: 20261203, numRuns: 300 });
  });

  test('a saved map text in 64 KB pieces joins to the JSON of its entries', () => {
    const m = new ValueMap<string, number>(null);
    for (let i = 0; i < 20000; i++) m.set(`key-${i}`, i);
    const pieces = m.toText();
    expect(pieces.length).toBeGreaterThan(1);
    const entries = JSON.parse(pieces.join('')) as [string, number][];
    expect(entries).toHaveLength(20000);
    expect(new ValueMap<string, number>(pieces.join('')).get('key-19999')).toBe(19999);
  });
});

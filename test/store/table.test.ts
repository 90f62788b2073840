/**
 * One collection of the store file as rows (src/store/table.ts): rows read lazily from the
 * file by their places, changed and new rows written while unchanged runs are copied byte for
 * byte, and the result always the JSON of the collection as it is now.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { type RowReader, type RowWriter, Table } from '../../src/store/table.js';

type Row = { id: number; v: string };

/** A "file" in memory: the text of the last write, read and copied as the store file is. */
class MemFile implements RowReader {
  text = '';
  reads = 0;
  read(start: number, end: number): string { this.reads++; return this.text.slice(start, end); }
  writer(): RowWriter & { out: string } {
    const src = this.text;
    const w = { out: '', get offset() { return this.out.length; }, copy(s: number, e: number) { this.out += src.slice(s, e); }, text(s: string) { this.out += s; } };
    return w;
  }
}

/** Writes `table` into `file` (as a store write does: emit, then place and settle). */
function write(table: Table<Row>, file: MemFile): void {
  const w = file.writer();
  const places = table.emit(w);
  file.text = w.out;
  table.place(places);
  table.settle();
}

const rowsArb = fc.array(fc.record({ id: fc.nat(), v: fc.string({ maxLength: 8 }) }), { maxLength: 40 });
const opArb = fc.oneof(
  fc.record({ push: fc.record({ id: fc.nat(), v: fc.string({ maxLength: 8 }) }) }),
  fc.record({ touch: fc.nat(), v: fc.string({ maxLength: 8 }) }),
);

describe('Table', () => {
  test('after any pushes and in-place changes, a write gives the JSON of the rows, and every row reads back', () => {
    fc.assert(fc.property(rowsArb, fc.array(fc.array(opArb, { maxLength: 10 }), { maxLength: 4 }), (initial, rounds) => {
      const file = new MemFile();
      const table = new Table<Row>('requests', initial.map((r) => ({ ...r })), file, false);
      const model = initial.map((r) => ({ ...r }));
      write(table, file);
      for (const ops of rounds) {
        for (const op of ops) {
          if ('push' in op) { table.push({ ...op.push }); model.push({ ...op.push }); continue; }
          if (!model.length) continue;
          const i = op.touch % model.length;
          const row = table.get(i);
          row.v = op.v;
          table.touched(i, row);
          model[i]!.v = op.v;
        }
        write(table, file);
        expect(JSON.parse(file.text)).toEqual(model);
        expect(table.count).toBe(model.length);
        for (let i = 0; i < model.length; i++) expect(table.get(i)).toEqual(model[i]);
        expect(table.all()).toEqual(model);
      }
    }), { seed: 20261203, numRuns: 200 });
  });

  test('rows only in the file are read one at a time; more than the cache holds still read right', () => {
    const file = new MemFile();
    const n = 3000;
    const table = new Table<Row>('notes', Array.from({ length: n }, (_, i) => ({ id: i, v: `row ${i}` })), file, false);
    write(table, file);
    // A fresh table over the same file, as a delivery opening the store through its saved index.
    const again = new Table<Row>('notes', null, file, false);
    again.place(table.places);
    file.reads = 0;
    for (let i = 0; i < n; i++) expect(again.get(i)).toEqual({ id: i, v: `row ${i}` });
    expect(file.reads).toBe(n);
    for (let i = n - 1; i >= 0; i -= 7) expect(again.get(i).id).toBe(i);
    // An unchanged table writes the same bytes (copied, not serialised again).
    const before = file.text;
    write(again, file);
    expect(file.text).toBe(before);
  });

  test('a row that is neither in memory nor in the file is an error, not undefined', () => {
    const table = new Table<Row>('notes', null, new MemFile(), false);
    expect(() => table.get(0)).toThrow(/row 0 of notes/);
  });
});

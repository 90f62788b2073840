#!/usr/bin/env node
// A store of N requests made from the workload generator's store: its reference data as it
// is, its requests (with their note and notification) repeated under new IDs and
// Message-IDs until there are N of each. Streamed row by row, so any size can be written
// (the generator builds its store as one string, which stops somewhere above 300,000
// requests: V8's longest string is 512 MB).
//
//   node bench/synth-store.mjs SOURCE.json N OUT.json
//
// synthEntries() gives the same store entry by entry (bench/pg-load.mjs loads it into
// PostgreSQL without the file: a file of 1,000,000 requests, 1.4 GB, is too long a string
// for copy-store to read).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * The store's top-level entries in order: [name, rows] for the three collections that grow
 * (rows: an iterator of row objects), [name, value] for everything else, as in `src`.
 */
export function* synthEntries(src, N) {
  const byRequest = new Map(src.notes.filter((n) => n.record.type === 'request').map((n) => [n.record.id, n]));
  const notification = new Map(src.notifications.map((n) => [n.record.id, n]));
  const base = src.requests;
  const FIRST = 100000;
  function* rows(make) {
    for (let i = 0; i < N; i++) {
      const row = make(i);
      if (row) yield row;
    }
  }
  const copyOf = (i) => {
    const r = base[i % base.length];
    const round = Math.floor(i / base.length);
    return { r, round, id: FIRST + i, mid: round ? `r${round}.${r.message_id}` : r.message_id };
  };
  for (const [key, value] of Object.entries(src)) {
    if (key === 'requests') {
      yield [key, rows((i) => { const { r, id, mid } = copyOf(i); return { ...r, id, sourceID: mid, message_id: mid }; }), true];
    } else if (key === 'notes') {
      let noteId = 900000;
      yield [key, rows((i) => {
        const { r, id, mid } = copyOf(i);
        const n = byRequest.get(r.id);
        return n && { ...n, id: ++noteId, record: { type: 'request', id }, message_id: mid };
      }), true];
    } else if (key === 'notifications') {
      yield [key, rows((i) => {
        const { r, round, id } = copyOf(i);
        const n = notification.get(r.id);
        return n && { ...n, message_id: round ? `r${round}.${n.message_id}` : n.message_id, record: { type: 'request', id } };
      }), true];
    } else {
      yield [key, value, false];
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [source, count, out] = process.argv.slice(2);
  const N = Number(count);
  if (!source || !out || !(N > 0)) {
    console.error('usage: synth-store.mjs SOURCE.json REQUESTS OUT.json');
    process.exit(64);
  }
  const src = JSON.parse(readFileSync(source, 'utf8'));
  const fd = openSync(out, 'w');
  let pending = '';
  const put = (s) => {
    pending += s;
    if (pending.length > 1 << 20) { writeSync(fd, pending); pending = ''; }
  };
  put('{');
  let first = true;
  for (const [key, value, generated] of synthEntries(src, N)) {
    if (!first) put(',');
    first = false;
    if (generated) {
      put(`${JSON.stringify(key)}:[`);
      let emitted = 0;
      for (const row of value) put(`${emitted++ ? ',' : ''}${JSON.stringify(row)}`);
      put(']');
    } else {
      put(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
  }
  put('}');
  writeSync(fd, pending);
  closeSync(fd);
}

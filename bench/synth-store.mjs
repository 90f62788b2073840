#!/usr/bin/env node
// A store of N requests made from the workload generator's store: its reference data as it
// is, its requests (with their note and notification) repeated under new IDs and
// Message-IDs until there are N of each. Streamed row by row, so any size can be written
// (the generator builds its store as one string, which stops somewhere above 300,000
// requests: V8's longest string is 512 MB).
//
//   node bench/synth-store.mjs SOURCE.json N OUT.json
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

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

const byRequest = new Map(src.notes.filter((n) => n.record.type === 'request').map((n) => [n.record.id, n]));
const notification = new Map(src.notifications.map((n) => [n.record.id, n]));
const base = src.requests;
const FIRST = 100000;
const rows = (name, make) => {
  put(`${JSON.stringify(name)}:[`);
  let emitted = 0;
  for (let i = 0; i < N; i++) {
    const row = make(i);
    if (row) put(`${emitted++ ? ',' : ''}${JSON.stringify(row)}`);
  }
  put(']');
};
const copyOf = (i) => {
  const r = base[i % base.length];
  const round = Math.floor(i / base.length);
  return { r, round, id: FIRST + i, mid: round ? `r${round}.${r.message_id}` : r.message_id };
};

put('{');
let first = true;
for (const [key, value] of Object.entries(src)) {
  if (!first) put(',');
  first = false;
  if (key === 'requests') {
    rows('requests', (i) => { const { r, id, mid } = copyOf(i); return { ...r, id, sourceID: mid, message_id: mid }; });
  } else if (key === 'notes') {
    let noteId = 900000;
    rows('notes', (i) => {
      const { r, id, mid } = copyOf(i);
      const n = byRequest.get(r.id);
      return n && { ...n, id: ++noteId, record: { type: 'request', id }, message_id: mid };
    });
  } else if (key === 'notifications') {
    rows('notifications', (i) => {
      const { r, round, id } = copyOf(i);
      const n = notification.get(r.id);
      return n && { ...n, message_id: round ? `r${round}.${n.message_id}` : n.message_id, record: { type: 'request', id } };
    });
  } else {
    put(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
}
put('}');
writeSync(fd, pending);
closeSync(fd);

#!/usr/bin/env node
// A bulk path for the bench: the store bench/synth-store.mjs makes (N requests), written into
// an empty PostgreSQL store with COPY through psql, one transaction, streamed row by row.
// The tables end up holding what `m4me copy-store store-N.json URL` would put there (same
// rows, pos, columns, doc text, document entries, meta, sequences; bench/pg.mjs --check-load
// compares the two at 10,000), but:
//   - copy-store reads the file as one string: 1,000,000 requests are a 1.4 GB file, past
//     V8's longest string (512 MB), so it cannot read it at all;
//   - copy-store inserts 5,000 rows per statement through unnest(): 100,000 requests took
//     15.7-23 s, so 1,000,000 would be minutes; COPY does it in a fraction of that.
// Attachments are not copied (a synthetic store has no files folder).
//
//   node bench/pg-load.mjs SOURCE.json N URL [PSQL]     (SOURCE: the generator's store.json)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ROOT } from './timed.mjs';
import { synthEntries } from './synth-store.mjs';

const dist = (p) => import(`${ROOT}/dist/${p}`);

/** A value as COPY's text format writes it. */
function field(v) {
  if (v === null || v === undefined) return '\\N';
  if (Array.isArray(v)) v = `{${v.map((s) => `"${String(s).replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
  return String(v).replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Loads synthEntries(source, requests) into the empty store at `url` (schema created or
 * brought up to date first). `name` is the file copy-store would have read (its
 * `files_dir` meta). Resolves with { ms, rows }.
 */
export async function bulkLoad({ source, requests, url, psql = 'psql', name = `store-${requests}.json` }) {
  const t0 = performance.now();
  const { openPool, withClient } = await dist('store/pg/connect.js');
  const { migrate, syncSequences } = await dist('store/pg/schema.js');
  const { tableOf } = await dist('store/pg/rows.js');
  const { ARRAY_COLLECTIONS } = await dist('store/schema.js');
  const collections = new Set(ARRAY_COLLECTIONS);
  const db = await openPool(url, { statementTimeoutMs: 600_000 });
  try {
    await migrate(db);
    const src = JSON.parse(readFileSync(source, 'utf8'));
    const child = spawn(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-', url], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const done = new Promise((res, rej) => {
      child.on('error', rej);
      child.on('close', (code) => (code === 0 ? res() : rej(new Error(`psql COPY: exit ${code}: ${err.trim().slice(0, 500)}`))));
    });
    child.stdin.on('error', () => undefined); // psql gone: `done` says why
    let pending = '';
    const flush = async () => {
      if (!child.stdin.write(pending)) await Promise.race([once(child.stdin, 'drain'), done]);
      pending = '';
    };
    const put = async (s) => { pending += s; if (pending.length > 1 << 20) await flush(); };

    // The secondary indexes of the tables that get many rows, dropped and made again after
    // the rows are in (one sort each instead of 3,000,000 insertions into a b-tree); those of
    // a primary key or unique constraint stay. The same names and definitions come back.
    const big = ['m4me_records', 'm4me_notes', 'm4me_notifications'];
    const { rows: indexes } = await withClient(db, (c) => c.query(`SELECT indexname, indexdef FROM pg_indexes i
      WHERE schemaname = current_schema() AND tablename = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`, [big]));
    await put('BEGIN;\n');
    await put(`DO $$ BEGIN IF EXISTS (SELECT 1 FROM m4me_document) THEN RAISE EXCEPTION 'not an empty store'; END IF; END $$;\n`);
    for (const { indexname } of indexes) await put(`DROP INDEX "${indexname}";\n`);
    const pos = new Map(); // table -> rows so far (its pos), as writePgDocument counts them
    const entries = [];
    const truncated = new Set();
    let rows = 0;
    for (const [key, value, generated] of synthEntries(src, requests)) {
      const isRows = generated || (collections.has(key) && Array.isArray(value));
      entries.push([key, isRows ? null : JSON.stringify(value)]);
      if (!isRows) continue;
      const spec = tableOf(key);
      const attempts = spec.table === 'm4me_inbound' ? new Map() : null;
      // FREEZE (the table truncated in this transaction): rows written frozen and all-visible,
      // so no vacuum of 2 GB rewrites them later, in the middle of a measurement.
      if (!truncated.has(spec.table)) { truncated.add(spec.table); await put(`TRUNCATE ${spec.table};\n`); }
      await put(`COPY ${spec.table} (pos, ${spec.columns.join(', ')}, doc) FROM STDIN WITH (FREEZE);\n`);
      for (const row of value) {
        const values = spec.values(row);
        if (attempts) { // the n-th entry of a key is attempt n
          const n = attempts.get(values[0]) ?? 0;
          attempts.set(values[0], n + 1);
          values[spec.columns.indexOf('attempt')] = n;
        }
        const p = (pos.get(spec.table) ?? 0) + 1;
        pos.set(spec.table, p);
        await put(`${p}\t${values.map(field).join('\t')}\t${field(JSON.stringify(row))}\n`);
        rows++;
      }
      await put('\\.\n');
    }
    await put('COPY m4me_document (position, name, value) FROM STDIN;\n');
    for (const [i, [key, value]] of entries.entries()) await put(`${i}\t${field(key)}\t${field(value)}\n`);
    await put('\\.\n');
    for (const [table, max] of pos) await put(`SELECT setval(pg_get_serial_sequence('${table}', 'pos'), ${max});\n`);
    for (const { indexdef } of indexes) await put(`${indexdef};\n`);
    await put(`INSERT INTO m4me_meta (key, value) VALUES ('file_layout', 'compact'), ('files_dir', '${name.replace(/'/g, "''")}.files');\n`);
    await put('COMMIT;\n');
    await flush();
    child.stdin.end();
    await done;
    await withClient(db, syncSequences);
    return { ms: performance.now() - t0, rows };
  } finally {
    await db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [source, count, url, psql] = process.argv.slice(2);
  if (!source || !(Number(count) > 0) || !url) {
    console.error('usage: pg-load.mjs SOURCE.json REQUESTS URL [PSQL]');
    process.exit(64);
  }
  const r = await bulkLoad({ source, requests: Number(count), url, psql });
  console.log(`loaded ${count} requests (${r.rows} rows) in ${(r.ms / 1000).toFixed(1)} s`);
}

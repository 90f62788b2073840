/**
 * The operator's commands on a PostgreSQL store (CONTRACT §9): `import` and `export` of the
 * reference collections, `compact` of the ledger, the automatic replies and the delivery log.
 * They do what the JSON store's do (src/cli/import.ts, Store.compact), on the tables:
 *
 * - import: the rows checked as for the file (against the store schema and the references,
 *   the whole store's reference data read first), then in one transaction, under an advisory
 *   lock of its own (two imports do not interleave): a row with a known `id` updated in place
 *   (its position kept, as the file store keeps it), a new one inserted after the others; the
 *   person sequence raised above an imported person's `id`; `reference_version` in m4me_meta
 *   counted up, so a running delivery (`serve`, a batch) reloads the reference data at its
 *   next transaction.
 * - compact: what is older than the date, by the same fields the file store reads.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { ReferenceCollection } from '../references.js';
import { ARRAY_COLLECTIONS } from '../schema.js';
import { inTransaction, openPool, pgFailure, withClient } from './connect.js';
import { tableOf } from './rows.js';
import { checkSchema } from './schema.js';

type Row = Record<string, unknown>;

const lockOf = (what: string) => createHash('sha256').update(`m4me ${what}`).digest().readBigInt64BE(0).toString();

/** Runs `fn` on an open pool of the store at `url` whose schema is this m4me's; every failure a pgFailure. */
async function onStore<T>(url: string, fn: (db: Awaited<ReturnType<typeof openPool>>) => Promise<T>): Promise<T> {
  const db = await openPool(url, { max: 1 });
  try {
    await checkSchema(db);
    return await fn(db);
  } catch (err) {
    throw pgFailure(err, url);
  } finally {
    await db.close();
  }
}

async function rowsOf(c: pg.PoolClient, collection: ReferenceCollection): Promise<Row[]> {
  const r = await c.query<{ doc: string }>(`SELECT doc::text AS doc FROM ${tableOf(collection).table} ORDER BY pos`);
  return r.rows.map((x) => JSON.parse(x.doc) as Row);
}

/** Every reference collection of the store, in document order (what import checks against). */
export function readPgReferences(url: string, collections: readonly ReferenceCollection[]): Promise<Record<ReferenceCollection, Row[]>> {
  return onStore(url, (db) => withClient(db, async (c) => {
    const out = {} as Record<ReferenceCollection, Row[]>;
    for (const col of collections) out[col] = await rowsOf(c, col);
    return out;
  }));
}

/**
 * Every collection of the document present by name (a copy back to a file then has it, as
 * the file store writes every collection once it has written anything), compact.
 */
export async function ensureDocumentNames(c: pg.PoolClient, have: Set<string>): Promise<void> {
  const missing = ARRAY_COLLECTIONS.filter((n) => !have.has(n));
  if (!missing.length) return;
  await c.query(`INSERT INTO m4me_document (position, name, value)
    SELECT (SELECT coalesce(max(position), 0) FROM m4me_document) + o, n, NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(n, o)
    WHERE NOT EXISTS (SELECT 1 FROM m4me_document d WHERE d.name = u.n) ORDER BY o
    ON CONFLICT DO NOTHING`, [missing]);
  for (const n of missing) have.add(n);
}

/** Adds or replaces rows of a reference collection by `id`, in one transaction. */
export function upsertPgRows(url: string, collection: ReferenceCollection, rows: Row[]): Promise<void> {
  return onStore(url, (db) => inTransaction(db, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockOf('import')]);
    const spec = tableOf(collection);
    for (const row of rows) {
      const values = spec.values(row);
      const params: unknown[] = [...values, JSON.stringify(row)];
      const idAt = spec.columns.indexOf('id');
      const set = spec.columns.map((col, i) => `${col} = $${i + 1}`).concat(`doc = $${params.length}`);
      const updated = await c.query(`UPDATE ${spec.table} SET ${set.join(', ')} WHERE id = $${idAt + 1}`, params);
      if (!updated.rowCount) {
        await c.query(`INSERT INTO ${spec.table} (${[...spec.columns, 'doc'].join(', ')}) VALUES (${params.map((_, i) => `$${i + 1}`).join(', ')})`, params);
      }
    }
    if (collection === 'people') {
      await c.query(`SELECT setval('m4me_person_id_seq', greatest((SELECT last_value FROM m4me_person_id_seq), (SELECT coalesce(max(id), 0) FROM m4me_people)))`);
    }
    const names = await c.query<{ name: string }>('SELECT name FROM m4me_document');
    await ensureDocumentNames(c, new Set(names.rows.map((r) => r.name)));
    await c.query(`INSERT INTO m4me_meta (key, value) VALUES ('file_layout', 'compact') ON CONFLICT (key) DO UPDATE SET value = 'compact'`);
    await c.query(`INSERT INTO m4me_meta (key, value) VALUES ('reference_version', '1')
      ON CONFLICT (key) DO UPDATE SET value = (m4me_meta.value::bigint + 1)::text`);
  }));
}

/** The rows of one reference collection, in document order (export). */
export function readPgCollection(url: string, collection: ReferenceCollection): Promise<Row[]> {
  return onStore(url, (db) => withClient(db, (c) => rowsOf(c, collection)));
}

/**
 * Removes ledger entries, automatic replies and delivery-log lines older than `before` (ms),
 * as Store.compact does: by the time each row's own field gives (a row whose time does not
 * parse is kept). Returns the counts (with `dryRun`, what would go).
 */
export function compactPg(url: string, before: number, dryRun: boolean): Promise<{ inbound: number; auto_replies: number; log: number }> {
  return onStore(url, (db) => inTransaction(db, async (c) => {
    const cut = new Date(before).toISOString();
    // The ledger's received_at and the log's at are the parsed times (NULL when unparsable).
    // A reply's `day` is the date its sent_at is written with (in its own offset): days before
    // the cut's day by more than one go whole; those around it are read row by row.
    const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const [from, to] = [dayOf(before - 86_400_000), dayOf(before + 86_400_000)];
    const near = await c.query<{ pos: string; sent_at: unknown }>(`SELECT pos, doc->'sent_at' AS sent_at FROM m4me_auto_replies WHERE day BETWEEN $1 AND $2`, [from, to]);
    const oldNear = near.rows.filter((r) => typeof r.sent_at === 'string' && Date.parse(r.sent_at) < before).map((r) => r.pos);
    const replies = `(day ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND day < $1 OR pos = ANY ($2::bigint[]))`;
    const verb = dryRun ? 'SELECT count(*) AS n FROM' : 'WITH gone AS (DELETE FROM';
    const end = dryRun ? '' : ' RETURNING 1) SELECT count(*) AS n FROM gone';
    const n = async (sql: string, params: unknown[]) => Number((await c.query<{ n: string }>(sql, params)).rows[0]!.n);
    // The log first: a line without its ledger entry is never shown; the reverse would lose a trace.
    const log = await n(`${verb} m4me_delivery_log WHERE at < $1${end}`, [cut]);
    const inbound = await n(`${verb} m4me_inbound WHERE received_at < $1${end}`, [cut]);
    const autoReplies = await n(`${verb} m4me_auto_replies WHERE ${replies}${end}`, [from, oldNear]);
    return { inbound, auto_replies: autoReplies, log };
  }));
}

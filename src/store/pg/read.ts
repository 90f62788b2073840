/**
 * `m4me show` and `m4me list` on a PostgreSQL store: the reference data (to name people,
 * teams, services, CIs) and only the rows the command shows — one record and its notes, or
 * the records of one type (created since `since`) — read in one snapshot into a StoreIndex,
 * so the commands work on it as on the JSON store's.
 */
import { RESIDENT, StoreIndex } from '../indexes.js';
import type { LogLine } from '../delivery-log.js';
import { ARRAY_COLLECTIONS, COLLECTION, type InboundEntry, type RecordType, type StoreData } from '../schema.js';
import { openPool, pgFailure, withClient } from './connect.js';
import { tableOf } from './rows.js';
import { checkSchema } from './schema.js';

export interface PgReading { index: StoreIndex; data: StoreData }

export async function readPgRecords(url: string, type: RecordType, only: { id?: number; since?: number | null }): Promise<PgReading> {
  const db = await openPool(url, { max: 1 });
  try {
    await checkSchema(db);
    const data = await withClient(db, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const out: Record<string, unknown[]> = {};
        for (const col of ARRAY_COLLECTIONS) out[col] = [];
        for (const col of RESIDENT) {
          out[col] = (await c.query<{ doc: unknown }>(`SELECT doc FROM ${tableOf(col).table} ORDER BY pos`)).rows.map((r) => r.doc);
        }
        if (only.id !== undefined && !Number.isSafeInteger(only.id)) {
          // No such ID (the JSON store finds none either).
        } else if (only.id !== undefined) {
          out[COLLECTION[type]] = (await c.query<{ doc: unknown }>('SELECT doc FROM m4me_records WHERE type = $1 AND id = $2', [type, only.id])).rows.map((r) => r.doc);
          out.notes = (await c.query<{ doc: unknown }>('SELECT doc FROM m4me_notes WHERE record_type = $1 AND record_id = $2 ORDER BY pos', [type, only.id])).rows.map((r) => r.doc);
        } else {
          // created_at is the row's own time, as a timestamp: rows without one are kept (the command filters them).
          const since = only.since === undefined || only.since === null ? null : new Date(only.since).toISOString();
          out[COLLECTION[type]] = (await c.query<{ doc: unknown }>(
            'SELECT doc FROM m4me_records WHERE type = $1 AND ($2::timestamptz IS NULL OR created_at IS NULL OR created_at >= $2::timestamptz) ORDER BY pos',
            [type, since])).rows.map((r) => r.doc);
        }
        return out as unknown as StoreData;
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
      }
    });
    return { index: new StoreIndex(data), data };
  } catch (err) {
    throw pgFailure(err, url);
  } finally {
    await db.close();
  }
}

/** `m4me log` on a PostgreSQL store: the inbound ledger and the delivery log, in one snapshot. */
export async function readPgLog(url: string, since: number | null): Promise<{ ledger: InboundEntry[]; lines: LogLine[] }> {
  const db = await openPool(url, { max: 1 });
  try {
    await checkSchema(db);
    return await withClient(db, async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const from = since === null ? null : new Date(since).toISOString();
        const ledger = (await c.query<{ doc: InboundEntry }>(
          'SELECT doc FROM m4me_inbound WHERE $1::timestamptz IS NULL OR received_at IS NULL OR received_at >= $1::timestamptz ORDER BY pos', [from])).rows.map((r) => r.doc);
        const lines = (await c.query<{ line: LogLine }>(
          'SELECT line FROM m4me_delivery_log WHERE $1::timestamptz IS NULL OR at >= $1::timestamptz ORDER BY pos', [from])).rows.map((r) => r.line);
        return { ledger, lines };
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
      }
    });
  } catch (err) {
    throw pgFailure(err, url);
  } finally {
    await db.close();
  }
}

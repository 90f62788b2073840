/**
 * The PostgreSQL schema of the store, versioned: `m4me_schema` lists every migration
 * applied. `migrate` creates or upgrades it in one transaction, under an advisory lock (two
 * `m4me init` at once: one waits, then finds nothing to do); a schema newer than this code
 * is refused (4.3.5) and left as it is. `checkSchema` is what opening a store checks.
 */
import type pg from 'pg';
import { TempFailure } from '../errors.js';
import { inTransaction, type PgDb, withClient } from './connect.js';

/** An advisory lock key for schema changes ('m4me'). */
const MIGRATION_LOCK = 0x6d346d65;

/** Floors of the ID allocators (CONTRACT §3; src/store/indexes.ts). */
export const RECORD_ID_FLOOR = 99999;
export const NOTE_ID_FLOOR = 900000;

const ref = (cols: string) => `pos bigserial PRIMARY KEY, ${cols}, doc json NOT NULL`;

/** Migration n is MIGRATIONS[n - 1]: SQL run once, in order. Never edit one that shipped. */
const MIGRATIONS: readonly string[] = [
  `
  -- The document's top-level names in order; value is the JSON text of a name that is not
  -- a collection kept in a table (null for those).
  CREATE TABLE m4me_document (position int PRIMARY KEY, name text NOT NULL UNIQUE, value text);
  CREATE TABLE m4me_meta (key text PRIMARY KEY, value text NOT NULL);

  CREATE TABLE m4me_accounts (${ref('id text NOT NULL UNIQUE')});
  CREATE TABLE m4me_people (${ref('id bigint NOT NULL UNIQUE, account text, primary_email text, emails text[] NOT NULL')});
  CREATE INDEX m4me_people_primary ON m4me_people (primary_email);
  CREATE INDEX m4me_people_emails ON m4me_people USING gin (emails);
  CREATE TABLE m4me_teams (${ref('id bigint, account text')});
  CREATE TABLE m4me_organizations (${ref('id bigint, account text')});
  CREATE TABLE m4me_service_instances (${ref('id bigint, account text')});
  CREATE TABLE m4me_configuration_items (${ref('id bigint, account text, source text, source_id text')});
  CREATE INDEX m4me_cis_source ON m4me_configuration_items (account, source_id, source);
  CREATE TABLE m4me_first_line_support_agreements (${ref('id bigint, account text')});
  CREATE TABLE m4me_workflow_templates (${ref('id bigint, account text')});
  CREATE TABLE m4me_request_templates (${ref('id bigint, account text')});

  -- Requests, problems, releases, workflows, tasks, projects: one table, IDs shared.
  CREATE TABLE m4me_records (${ref(`type text NOT NULL, id bigint NOT NULL, account text, source text, source_id text,
    message_id text, event_key text, subject_key text, created_at timestamptz, UNIQUE (type, id)`)});
  CREATE INDEX m4me_records_id ON m4me_records (id);
  CREATE INDEX m4me_records_source ON m4me_records (type, source, source_id) WHERE source_id IS NOT NULL;
  CREATE INDEX m4me_records_message ON m4me_records (message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX m4me_records_event ON m4me_records (event_key, created_at) WHERE type = 'request';
  CREATE INDEX m4me_records_subject ON m4me_records (subject_key) WHERE type = 'request';

  CREATE TABLE m4me_notes (${ref('id bigint NOT NULL UNIQUE, record_type text, record_id bigint, message_id text, created_at timestamptz')});
  CREATE INDEX m4me_notes_record ON m4me_notes (record_type, record_id);
  CREATE INDEX m4me_notes_message ON m4me_notes (message_id) WHERE message_id IS NOT NULL;
  CREATE TABLE m4me_notifications (${ref('message_id text, record_type text, record_id bigint')});
  CREATE INDEX m4me_notifications_message ON m4me_notifications (message_id);
  -- The inbound ledger: (key, attempt) unique makes a message exactly-once across hosts.
  CREATE TABLE m4me_inbound (${ref('key text NOT NULL, attempt int NOT NULL, recipient text, message_id text, received_at timestamptz, UNIQUE (key, attempt)')});
  CREATE INDEX m4me_inbound_message ON m4me_inbound (message_id) WHERE message_id IS NOT NULL;
  CREATE TABLE m4me_auto_replies (${ref('recipient text NOT NULL, day text NOT NULL')});
  CREATE INDEX m4me_auto_replies_to ON m4me_auto_replies (recipient, day);

  CREATE TABLE m4me_attachments (sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL, content bytea NOT NULL);

  -- ID allocators: kept above every existing ID by syncSequences.
  CREATE SEQUENCE m4me_record_id_seq MINVALUE ${RECORD_ID_FLOOR} START ${RECORD_ID_FLOOR + 1};
  CREATE SEQUENCE m4me_note_id_seq MINVALUE ${NOTE_ID_FLOOR} START ${NOTE_ID_FLOOR + 1};
  CREATE SEQUENCE m4me_person_id_seq MINVALUE 0 START 1;
  `,
  `
  -- The delivery log (what <store>.log is for a JSON store): one line per delivery, with
  -- its trace, for m4me log --explain; written in the delivery's own transaction.
  CREATE TABLE m4me_delivery_log (pos bigserial PRIMARY KEY, key text NOT NULL, at timestamptz NOT NULL, line json NOT NULL);
  CREATE INDEX m4me_delivery_log_key ON m4me_delivery_log (key);
  `,
  `
  -- A subject, a #source or #sourceID value, a #ci: text from mail, of any length. A btree
  -- entry may not pass ~2,700 bytes (SQLSTATE 54000), so a request with a longer one could
  -- not be inserted and its message was deferred for ever. A hash index keeps a hash of the
  -- value, whatever its length; these lookups only ever ask for equality.
  DROP INDEX m4me_records_source;
  CREATE INDEX m4me_records_source ON m4me_records USING hash (source_id) WHERE source_id IS NOT NULL;
  DROP INDEX m4me_records_event;
  CREATE INDEX m4me_records_event ON m4me_records USING hash (event_key) WHERE type = 'request';
  DROP INDEX m4me_records_subject;
  CREATE INDEX m4me_records_subject ON m4me_records USING hash (subject_key) WHERE type = 'request';
  `,
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

async function versionOf(c: pg.PoolClient): Promise<number | null> {
  const t = await c.query<{ t: string | null }>(`SELECT to_regclass('m4me_schema')::text AS t`);
  if (!t.rows[0]!.t) return null;
  const v = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM m4me_schema');
  return v.rows[0]!.v ?? 0;
}

const newer = (db: PgDb, v: number) => new TempFailure('4.3.5',
  `store ${db.label}: schema version ${v} is newer than this m4me (${SCHEMA_VERSION}); upgrade m4me (the schema was not changed)`);

/**
 * Creates the schema or brings it up to date, in one transaction. Returns the version it
 * found (null: none) and the one it left.
 */
export async function migrate(db: PgDb): Promise<{ from: number | null; to: number }> {
  return inTransaction(db, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    const from = await versionOf(c);
    if (from !== null && from > SCHEMA_VERSION) throw newer(db, from);
    if (from === null) await c.query('CREATE TABLE m4me_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (let v = (from ?? 0) + 1; v <= SCHEMA_VERSION; v++) {
      await c.query(MIGRATIONS[v - 1]!);
      await c.query('INSERT INTO m4me_schema (version) VALUES ($1)', [v]);
    }
    return { from, to: SCHEMA_VERSION };
  });
}

/** What opening a store checks: the schema is there and is this code's version (else 4.3.5). */
export async function checkSchema(db: PgDb): Promise<void> {
  const v = await withClient(db, versionOf);
  if (v === null || v === 0) throw new TempFailure('4.3.5', `store ${db.label}: no m4me schema in this database (create it with m4me init --store URL)`);
  if (v > SCHEMA_VERSION) throw newer(db, v);
  if (v < SCHEMA_VERSION) throw new TempFailure('4.3.5', `store ${db.label}: schema version ${v} is older than this m4me (${SCHEMA_VERSION}); upgrade it with m4me init --store URL`);
}

/** Sets the ID allocators above every ID in the tables (after a copy or an import). */
export async function syncSequences(c: pg.PoolClient): Promise<void> {
  await c.query(`SELECT setval('m4me_record_id_seq', greatest(${RECORD_ID_FLOOR}, (SELECT max(id) FROM m4me_records)))`);
  await c.query(`SELECT setval('m4me_note_id_seq', greatest(${NOTE_ID_FLOOR}, (SELECT max(id) FROM m4me_notes)))`);
  await c.query(`SELECT setval('m4me_person_id_seq', greatest(0, (SELECT max(id) FROM m4me_people)))`);
}

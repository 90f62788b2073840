/**
 * How a row of each collection of the store document (CONTRACT §3) is kept in PostgreSQL:
 * its table, the columns the engine's lookups use (computed here, in JavaScript, exactly as
 * src/store/indexes.ts computes its keys, so a lookup by the same function finds it), and
 * the row's own JSON text in `doc` (a `json` column keeps the text as written: same key
 * order, so a copy back to a file is the same document).
 */
import { ARRAY_COLLECTIONS, RECORD_TYPES, type RecordType } from '../schema.js';

export type Collection = typeof ARRAY_COLLECTIONS[number];
type Row = Record<string, unknown>;
type Value = string | number | boolean | null | string[];

/** Record collection → its type (records of every type share one table). */
export const TYPE_OF: Partial<Record<Collection, RecordType>> = {
  requests: 'request', problems: 'problem', releases: 'release', workflows: 'workflow',
  workflow_tasks: 'workflow_task', projects: 'project', project_tasks: 'project_task',
};

/** Reference collections with only id and account as columns. */
const REFERENCE: readonly Collection[] = [
  'teams', 'organizations', 'service_instances', 'first_line_support_agreements', 'workflow_templates', 'request_templates',
];

/**
 * PostgreSQL text cannot hold U+0000 (SQLSTATE 22021), and mail can carry one (a quoted-printable
 * `=00` in a #sourceID, say): in a column or a lookup's parameter it becomes U+FFFD, the same way
 * on both sides, so the lookup still finds the row. The row's JSON (`doc`) keeps the value as it
 * was (`\u0000` is escaped there).
 */
export const pgText = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);
/** A query parameter made storable: strings (and arrays of them) through pgText. */
export const pgParam = (v: unknown): unknown =>
  typeof v === 'string' ? pgText(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? pgText(x) : x)) : v;

export const lower = (s: unknown) => pgText((typeof s === 'string' ? s : '').trim().toLowerCase());
const str = (v: unknown): string | null => (typeof v === 'string' ? pgText(v) : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
const time = (v: unknown): string | null => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? null : new Date(t).toISOString();
};
const ref = (v: unknown): { type: string | null; id: number | null } => {
  const r = (typeof v === 'object' && v !== null ? v : {}) as Row;
  return { type: str(r.type), id: int(r.id) };
};

/** The engine's event key (indexes.ts eventKey), unambiguous: a JSON array, null as ''. */
export function eventKey(r: Row): string {
  return JSON.stringify([r.account, r.source, r.requested_for, r.service_instance, r.ci].map((p) => p ?? ''));
}
/** The engine's subject key (indexes.ts subjectKey). */
export function subjectKey(r: Row): string {
  return JSON.stringify([r.account ?? '', r.source ?? '', r.requested_for ?? '', typeof r.subject === 'string' ? r.subject.trim() : '']);
}

export interface TableSpec {
  table: string;
  /** Columns besides pos and doc, in insert order. */
  columns: string[];
  /** Their values for one row. */
  values(row: Row): Value[];
}

const TABLES: Record<string, TableSpec> = {};
TABLES.accounts = { table: 'm4me_accounts', columns: ['id'], values: (r) => [str(r.id)] };
TABLES.people = {
  table: 'm4me_people', columns: ['id', 'account', 'primary_email', 'emails'],
  values: (r) => [int(r.id), str(r.account), r.primary_email ? lower(r.primary_email) : null,
    Array.isArray(r.emails) ? r.emails.map(lower) : []],
};
for (const c of REFERENCE) TABLES[c] = { table: `m4me_${c}`, columns: ['id', 'account'], values: (r) => [int(r.id), str(r.account)] };
TABLES.configuration_items = {
  table: 'm4me_configuration_items', columns: ['id', 'account', 'source', 'source_id'],
  values: (r) => [int(r.id), str(r.account), str(r.source), str(r.sourceID)],
};
const RECORD_COLUMNS = ['type', 'id', 'account', 'source', 'source_id', 'message_id', 'event_key', 'subject_key', 'created_at'];
for (const [c, type] of Object.entries(TYPE_OF)) {
  TABLES[c] = {
    table: 'm4me_records', columns: RECORD_COLUMNS,
    values: (r) => {
      const request = type === 'request';
      return [type, int(r.id), str(r.account), str(r.source), str(r.sourceID),
        request ? str(r.message_id) : null, request ? eventKey(r) : null, request ? subjectKey(r) : null, time(r.created_at)];
    },
  };
}
TABLES.notes = {
  table: 'm4me_notes', columns: ['id', 'record_type', 'record_id', 'message_id', 'created_at'],
  values: (r) => { const x = ref(r.record); return [int(r.id), x.type, x.id, str(r.message_id), time(r.created_at)]; },
};
TABLES.notifications = {
  table: 'm4me_notifications', columns: ['message_id', 'record_type', 'record_id'],
  values: (r) => { const x = ref(r.record); return [str(r.message_id), x.type, x.id]; },
};
// `attempt` numbers the entries of one key (a --reprocess appends one): (key, attempt) is
// unique, so two hosts writing the first entry of a key cannot both succeed.
TABLES.inbound = {
  table: 'm4me_inbound', columns: ['key', 'attempt', 'recipient', 'message_id', 'received_at'],
  values: (r) => [str(r.key) ?? '', 0, str(r.recipient), str(r.message_id), time(r.received_at)],
};
TABLES.auto_replies = {
  table: 'm4me_auto_replies', columns: ['recipient', 'day'],
  values: (r) => [lower(r.to), typeof r.sent_at === 'string' ? r.sent_at.slice(0, 10) : ''],
};

export function tableOf(c: Collection): TableSpec { return TABLES[c]!; }

/** Every table holding rows of the document, once each, in creation order. */
export const ROW_TABLES: readonly string[] = [...new Set(ARRAY_COLLECTIONS.map((c) => TABLES[c]!.table))];

export { RECORD_TYPES };

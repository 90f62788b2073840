/**
 * The store document (CONTRACT §3) as `copy-store` moves it: its top-level names in order,
 * each collection as the JSON text of its rows, other values as JSON text, the layout the
 * file had (m4me writes `JSON.stringify` of the store; `m4me init` writes it indented, as
 * lowdb does), and the attachment bytes by sha256. Read from and written to a file store or
 * a PostgreSQL store, so that file → PostgreSQL → file gives back the same bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type pg from 'pg';
import { ARRAY_COLLECTIONS } from '../schema.js';
import { type Collection, ROW_TABLES, tableOf, TYPE_OF } from './rows.js';
import { syncSequences } from './schema.js';

export type Layout = 'compact' | 'indented';

export interface DocEntry {
  name: string;
  /** A collection kept row by row: each row's JSON text (compact). */
  rows?: string[];
  /** Any other value: its JSON text (compact). */
  value?: string;
}

export interface StoreDocument {
  layout: Layout;
  entries: DocEntry[];
  /** sha256 → where to read the bytes (a file) or the bytes. */
  blobs: Map<string, string | Buffer>;
}

const COLLECTIONS = new Set<string>(ARRAY_COLLECTIONS);
const SHA = /^[0-9a-f]{64}$/;

/** The JSON text of the document, in its layout (byte for byte what the file store wrote). */
export function documentPieces(doc: StoreDocument): string[] {
  const out: string[] = [];
  if (doc.layout === 'compact') {
    out.push('{');
    doc.entries.forEach((e, n) => {
      out.push(`${n ? ',' : ''}${JSON.stringify(e.name)}:`);
      if (e.rows) {
        out.push('[');
        for (let i = 0; i < e.rows.length; i++) out.push(i ? `,${e.rows[i]}` : e.rows[i]!);
        out.push(']');
      } else out.push(e.value!);
    });
    out.push('}');
    return out;
  }
  // JSON.stringify(data, null, 2), entry by entry.
  const indent = (text: string, by: string) => JSON.stringify(JSON.parse(text), null, 2).replace(/\n/g, `\n${by}`);
  if (!doc.entries.length) return ['{}'];
  out.push('{\n');
  doc.entries.forEach((e, n) => {
    out.push(`${n ? ',\n' : ''}  ${JSON.stringify(e.name)}: `);
    if (e.rows) out.push(e.rows.length ? `[\n    ${e.rows.map((r) => indent(r, '    ')).join(',\n    ')}\n  ]` : '[]');
    else out.push(indent(e.value!, '  '));
  });
  out.push('\n}');
  return out;
}

/** The document of parsed store data, as the file store would write it. */
export function documentOf(data: Record<string, unknown>): DocEntry[] {
  return Object.entries(data).map(([name, v]) => (COLLECTIONS.has(name) && Array.isArray(v)
    ? { name, rows: v.map((r) => JSON.stringify(r)) }
    : { name, value: JSON.stringify(v) }));
}

// ---- the file store ----

/** A file store's attachments: every `aa/<sha256>` under its files folder, and every path a note names. */
function fileBlobs(storePath: string, entries: DocEntry[]): Map<string, string> {
  const blobs = new Map<string, string>();
  const files = `${storePath}.files`;
  if (existsSync(files)) {
    for (const d of readdirSync(files)) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of readdirSync(join(files, d))) if (SHA.test(f) && f.startsWith(d)) blobs.set(f, join(files, d, f));
    }
  }
  const notes = entries.find((e) => e.name === 'notes')?.rows ?? [];
  const base = dirname(storePath);
  for (const text of notes) {
    const n = JSON.parse(text) as { attachments?: unknown; inline_images?: unknown };
    for (const a of [...(Array.isArray(n.attachments) ? n.attachments : []), ...(Array.isArray(n.inline_images) ? n.inline_images : [])]) {
      const { sha256, path } = (a ?? {}) as { sha256?: unknown; path?: unknown };
      if (typeof sha256 !== 'string' || !SHA.test(sha256) || blobs.has(sha256) || typeof path !== 'string') continue;
      const full = inside(base, path);
      if (full && existsSync(full)) blobs.set(sha256, full);
    }
  }
  return blobs;
}

/** `path` (relative, from a store) resolved under `base`, or null when it leaves it. */
function inside(base: string, path: string): string | null {
  const full = resolve(base, path);
  const rel = relative(base, full);
  return !rel || rel.startsWith('..') || rel.startsWith(sep) ? null : full;
}

export function readFileDocument(path: string): StoreDocument {
  const text = readFileSync(path, 'utf8');
  const data = JSON.parse(text) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('the file is not a JSON object');
  const layout: Layout = text !== JSON.stringify(data) && text === JSON.stringify(data, null, 2) ? 'indented' : 'compact';
  const entries = documentOf(data);
  return { layout, entries, blobs: fileBlobs(path, entries) };
}

/** Whether a file store is there with content (absent or zero bytes: empty). */
export function fileStoreHasContent(path: string): boolean {
  try { return statSync(path).size > 0; } catch { return false; }
}

/**
 * Writes the document as a file store: attachments first (`<store>.files/aa/<sha256>`, and
 * at the path a note gives for it, when that is another place under the store's folder),
 * then the document (temp file and rename).
 */
export function writeFileDocument(path: string, doc: StoreDocument): void {
  const base = dirname(path);
  mkdirSync(base, { recursive: true });
  const targets = new Map<string, Set<string>>();
  const add = (sha: string, p: string) => { if (!targets.has(sha)) targets.set(sha, new Set()); targets.get(sha)!.add(p); };
  for (const sha of doc.blobs.keys()) add(sha, join(`${path}.files`, sha.slice(0, 2), sha));
  for (const text of doc.entries.find((e) => e.name === 'notes')?.rows ?? []) {
    const n = JSON.parse(text) as { attachments?: unknown; inline_images?: unknown };
    for (const a of [...(Array.isArray(n.attachments) ? n.attachments : []), ...(Array.isArray(n.inline_images) ? n.inline_images : [])]) {
      const { sha256, path: p } = (a ?? {}) as { sha256?: unknown; path?: unknown };
      if (typeof sha256 !== 'string' || !doc.blobs.has(sha256) || typeof p !== 'string') continue;
      const full = inside(base, p);
      if (full) add(sha256, full);
    }
  }
  for (const [sha, places] of targets) {
    const src = doc.blobs.get(sha)!;
    const bytes = typeof src === 'string' ? readFileSync(src) : src;
    for (const p of places) {
      mkdirSync(dirname(p), { recursive: true });
      writeAtomic(p, bytes);
    }
  }
  writeAtomic(path, documentPieces(doc).join(''));
}

function writeAtomic(path: string, content: string | Buffer): void {
  const tmp = join(dirname(path), `.${path.split(sep).pop()}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* not written */ }
    throw err;
  }
}

// ---- the PostgreSQL store ----

/** Column types for the unnest() of a multi-row insert. */
const TYPES: Record<string, string> = {
  pos: 'bigint', id: 'text', account: 'text', primary_email: 'text', emails: 'json', type: 'text', source: 'text',
  source_id: 'text', message_id: 'text', event_key: 'text', subject_key: 'text', created_at: 'timestamptz',
  record_type: 'text', record_id: 'bigint', key: 'text', attempt: 'int', recipient: 'text', received_at: 'timestamptz', day: 'text',
};
const BATCH = 5000;

/** Whether a PostgreSQL store holds anything (a document or an attachment). */
export async function pgStoreHasContent(c: pg.PoolClient): Promise<boolean> {
  const r = await c.query<{ n: boolean }>('SELECT EXISTS (SELECT 1 FROM m4me_document) OR EXISTS (SELECT 1 FROM m4me_attachments) AS n');
  return r.rows[0]!.n;
}

/** Empties every table of the store (inside the caller's transaction). */
export async function clearPgStore(c: pg.PoolClient): Promise<void> {
  await c.query(`TRUNCATE m4me_document, m4me_meta, m4me_attachments, ${ROW_TABLES.join(', ')} RESTART IDENTITY`);
}

/** Writes the document into an empty PostgreSQL store (inside the caller's transaction). */
export async function writePgDocument(c: pg.PoolClient, doc: StoreDocument): Promise<void> {
  const pos = new Map<string, number>();
  const attempts = new Map<string, number>();
  let position = 0;
  for (const e of doc.entries) {
    await c.query('INSERT INTO m4me_document (position, name, value) VALUES ($1, $2, $3)', [position++, e.name, e.rows ? null : e.value!]);
    if (!e.rows) continue;
    const spec = tableOf(e.name as Collection);
    const cols = ['pos', ...spec.columns, 'doc'];
    const select = cols.map((col, i) => (col === 'emails' ? `ARRAY(SELECT json_array_elements_text(c${i}))`
      : col === 'id' && spec.table !== 'm4me_accounts' ? `c${i}::bigint` : `c${i}`));
    const sql = `INSERT INTO ${spec.table} (${cols.join(', ')}) SELECT ${select.join(', ')} FROM unnest(${cols.map((col, i) => `$${i + 1}::${col === 'doc' ? 'json' : TYPES[col]}[]`).join(', ')}) AS t(${cols.map((_, i) => `c${i}`).join(', ')})`;
    for (let at = 0; at < e.rows.length; at += BATCH) {
      const columns: unknown[][] = cols.map(() => []);
      for (const text of e.rows.slice(at, at + BATCH)) {
        const row = JSON.parse(text) as Record<string, unknown>;
        const values = spec.values(row);
        const p = (pos.get(spec.table) ?? 0) + 1;
        pos.set(spec.table, p);
        columns[0]!.push(p);
        values.forEach((v, i) => columns[i + 1]!.push(spec.columns[i] === 'emails' ? JSON.stringify(v) : v));
        if (spec.table === 'm4me_inbound') {
          // The n-th entry of a key is attempt n (a --reprocess appends one).
          const key = values[0] as string;
          const n = attempts.get(key) ?? 0;
          attempts.set(key, n + 1);
          columns[spec.columns.indexOf('attempt') + 1]![columns[0]!.length - 1] = n;
        }
        columns[cols.length - 1]!.push(text);
      }
      await c.query(sql, columns);
    }
  }
  for (const [table, max] of pos) await c.query(`SELECT setval(pg_get_serial_sequence('${table}', 'pos'), $1)`, [max]);
  await c.query(`INSERT INTO m4me_meta (key, value) VALUES ('file_layout', $1)`, [doc.layout]);
  for (const [sha, src] of doc.blobs) {
    const bytes = typeof src === 'string' ? readFileSync(src) : src;
    await c.query('INSERT INTO m4me_attachments (sha256, size, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [sha, bytes.length, bytes]);
  }
  await syncSequences(c);
}

/** Reads the whole document of a PostgreSQL store (inside the caller's transaction, for one snapshot). */
export async function readPgDocument(c: pg.PoolClient): Promise<StoreDocument> {
  const layout = (await c.query<{ value: string }>(`SELECT value FROM m4me_meta WHERE key = 'file_layout'`)).rows[0]?.value === 'indented' ? 'indented' : 'compact';
  const names = await c.query<{ name: string; value: string | null }>('SELECT name, value FROM m4me_document ORDER BY position');
  const entries: DocEntry[] = [];
  for (const { name, value } of names.rows) {
    if (value !== null) { entries.push({ name, value }); continue; }
    const spec = tableOf(name as Collection);
    const type = TYPE_OF[name as Collection];
    const r = await c.query<{ doc: string }>(`SELECT doc::text AS doc FROM ${spec.table}${type ? ' WHERE type = $1' : ''} ORDER BY pos`, type ? [type] : []);
    entries.push({ name, rows: r.rows.map((x) => x.doc) });
  }
  const blobs = new Map<string, Buffer>();
  const b = await c.query<{ sha256: string; content: Buffer }>('SELECT sha256, content FROM m4me_attachments ORDER BY sha256');
  for (const x of b.rows) blobs.set(x.sha256, x.content);
  return { layout, entries, blobs };
}

/** sha256 of bytes, hex (to check an attachment against its name). */
export const sha256Of = (b: Buffer) => createHash('sha256').update(b).digest('hex');

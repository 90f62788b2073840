/**
 * `m4me import TYPE FILE [--dry-run]` and `m4me export TYPE [--format csv|json]` (CONTRACT §9):
 * the reference collections from and to CSV (a header row of field names, lists separated by
 * `;`, nested fields as dotted columns), a JSON array or JSON Lines. Every row is checked
 * against the store schema and against the references it names before anything is written;
 * a problem names the file, the row (its line) and the column, and then nothing is written.
 *
 * CSV by csv-parse and csv-stringify (the node-csv project): quoting, embedded newlines and a
 * byte order mark are theirs to get right, not ours. A cell that a spreadsheet would run as a
 * formula (starting with = + - @, tab or CR) is exported behind a `'`, which import removes.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { defaultPaths, Store } from '../store/store.js';
import { FORBIDDEN_KEYS, mergeRow, newRowDefaults, REFERENCE_COLLECTIONS, type ReferenceCollection, referenceProblems, type RowProblem } from '../store/references.js';
import type { StoreData } from '../store/schema.js';
import { loadConfig } from './config.js';
import { isPgUrl } from '../store/pg/url.js';
import { EX, UsageError } from './exit.js';
import { STORE_SCHEMA } from '../store/store-schema.js';
import { printable } from './terminal.js';

type Row = Record<string, unknown>;
interface Schema { type?: string | string[]; items?: Schema; properties?: Record<string, Schema>; additionalProperties?: Schema | boolean; anyOf?: Schema[]; required?: string[] }

/** A row as read, with where it stands in the file (a line for CSV and JSON Lines, an element for JSON). */
interface ReadRow { row: Row; where: string }

function collection(type: string): ReferenceCollection {
  const t = type.toLowerCase().replace(/-/g, '_');
  const found = REFERENCE_COLLECTIONS.find((c) => c === t || c === `${t}s` || (t === 'person' && c === 'people'));
  if (!found) throw new UsageError(`unknown collection "${type}" (one of: ${REFERENCE_COLLECTIONS.join(', ')})`);
  return found;
}

const itemSchema = (c: ReferenceCollection) => ((STORE_SCHEMA as Schema).properties![c]!.items!) as Schema;
const typesOf = (s: Schema | undefined): string[] =>
  !s ? [] : s.anyOf ? s.anyOf.flatMap(typesOf) : Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];

class FileProblem extends Error {}

/** The schema of a dotted column (`email_policy.allow_new_requests`, `roles.example`), if the store names it. */
function columnSchema(root: Schema, path: string[]): Schema | undefined {
  let s: Schema | undefined = root;
  for (const seg of path) {
    if (!s) return undefined;
    s = s.properties?.[seg] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
  }
  return s;
}

const FORMULA = /^'(?=[=+\-@\t\r])/;

/** One CSV cell as the value its field takes: a number, a boolean, a list, null, or the text. */
function cellValue(text: string, schema: Schema | undefined, column: string): unknown {
  const types = typesOf(schema);
  const t = text.trim();
  if (t === '') return types.includes('null') ? null : types.includes('array') ? [] : undefined;
  if (types.includes('array')) {
    return t.split(';').map((x) => x.trim()).filter(Boolean).map((x) => cellValue(x, schema?.items ?? schema?.anyOf?.find((a) => a.items)?.items, column));
  }
  if (types.includes('integer')) {
    if (!/^\d{1,15}$/.test(t)) throw new FileProblem(`column ${column}: expects a whole number, not ${JSON.stringify(t)}`);
    return Number(t);
  }
  if (types.includes('boolean')) {
    const b = t.toLowerCase();
    if (['true', 'yes', '1'].includes(b)) return true;
    if (['false', 'no', '0'].includes(b)) return false;
    throw new FileProblem(`column ${column}: expects true or false, not ${JSON.stringify(t)}`);
  }
  return text.replace(FORMULA, '');
}

async function readCsv(file: string, text: string, c: ReferenceCollection): Promise<{ rows: ReadRow[]; problems: string[] }> {
  const { parse } = await import('csv-parse/sync');
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, bom: true, info: true, skip_empty_lines: true, relax_column_count: false }) as typeof records;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw new FileProblem(`${e.lines ? `line ${e.lines}: ` : ''}${e.message.replace(/^Invalid Record Length: /, '')}`);
  }
  const root = itemSchema(c);
  const rows: ReadRow[] = [];
  const problems: string[] = [];
  for (const { record, info } of records) {
    const where = `line ${info.lines}`;
    const row: Row = {};
    for (const [column, cell] of Object.entries(record)) {
      const path = column.trim().split('.');
      if (path.some((p) => p === '' || FORBIDDEN_KEYS.has(p))) { problems.push(`${file}: ${where}: column ${JSON.stringify(column)}: not a field name`); continue; }
      let value: unknown;
      try {
        value = cellValue(cell, columnSchema(root, path), column);
      } catch (err) {
        if (!(err instanceof FileProblem)) throw err;
        problems.push(`${file}: ${where}: ${err.message}`);
        continue;
      }
      if (value === undefined) continue;
      let target = row;
      for (const seg of path.slice(0, -1)) target = (target[seg] ??= {}) as Row;
      target[path.at(-1)!] = value;
    }
    rows.push({ row, where });
  }
  return { rows, problems };
}

function readJson(file: string, text: string, lines: boolean): ReadRow[] {
  const parse = (s: string, where: string): unknown => {
    try { return JSON.parse(s); } catch (err) { throw new FileProblem(`${where}: not valid JSON (${(err as Error).message})`); }
  };
  const asRow = (v: unknown, where: string): ReadRow => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FileProblem(`${where}: a row is a JSON object`);
    return { row: v as Row, where };
  };
  if (lines) {
    return text.split('\n').flatMap((l, i) => (l.trim() ? [asRow(parse(l, `line ${i + 1}`), `line ${i + 1}`)] : []));
  }
  const all = parse(text.replace(/^\uFEFF/, ''), file);
  if (!Array.isArray(all)) throw new FileProblem('a JSON file holds an array of rows');
  return all.map((v, i) => asRow(v, `row ${i + 1}`));
}

async function loadRows(file: string, c: ReferenceCollection): Promise<{ rows: ReadRow[]; problems: string[] }> {
  const format = extname(file).toLowerCase();
  if (!['.csv', '.json', '.jsonl', '.ndjson'].includes(format)) throw new UsageError(`${file}: a .csv, .json or .jsonl file, by its name`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileProblem(`cannot read it: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (format === '.csv') return readCsv(file, text, c);
  return { rows: readJson(file, text, format !== '.json'), problems: [] };
}

/** A new row's fields in the order CONTRACT §3 lists them (then any others), as an operator reads them. */
function inSchemaOrder(row: Row, schema: Schema): Row {
  const out: Row = {};
  for (const k of Object.keys(schema.properties ?? {})) if (k in row) out[k] = row[k];
  return Object.assign(out, row);
}

const columnOf = (instancePath: string) => instancePath.split('/').filter(Boolean).join('.');

export async function runImport(type: string, file: string, opts: { store?: string; config?: string; dryRun: boolean; quiet?: boolean }): Promise<number> {
  const c = collection(type);
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const fail = (lines: string[]) => {
    for (const l of lines) process.stderr.write(`${printable(l)}\n`);
    process.stderr.write(`5.6.0 m4me: import ${c} from ${printable(file)}: ${lines.length} problem${lines.length === 1 ? '' : 's'}; nothing was written\n`);
    return EX.DATAERR;
  };
  let read;
  try {
    read = await loadRows(file, c);
  } catch (err) {
    if (err instanceof FileProblem) return fail([`${file}: ${err.message}`]);
    throw err;
  }

  // A PostgreSQL store: read, checked the same way, written in one transaction (./pg/admin.ts).
  const pg = isPgUrl(config.store) ? await import('../store/pg/admin.js') : null;
  const store = pg ? null : await Store.open(defaultPaths(config.store, config.outbox), { lock: !opts.dryRun, lockTimeoutMs: 10_000 });
  try {
    const current = store ? store.data as unknown as Record<ReferenceCollection, Row[]> : await pg!.readPgReferences(config.store, REFERENCE_COLLECTIONS);
    const byId = new Map(current[c].map((r) => [r.id, r]));
    const { default: Ajv } = await import('ajv');
    const validate = new Ajv.default({ allErrors: true, strict: false }).compile(itemSchema(c));
    const problems = [...read.problems];
    const merged = read.rows.map(({ row, where }) => {
      const old = byId.get(row.id);
      const full = old ? mergeRow(old, row) : inSchemaOrder(mergeRow(newRowDefaults(c, row), row), itemSchema(c));
      if (!validate(full)) {
        for (const e of validate.errors ?? []) {
          const column = e.keyword === 'required' ? String(e.params.missingProperty) : columnOf(e.instancePath) || '(row)';
          problems.push(`${file}: ${where}: column ${column}: ${e.keyword === 'required' ? 'missing (a new row needs it)' : e.message}`);
        }
      }
      return full;
    });
    const after = { ...current, [c]: [...current[c].filter((r) => !read.rows.some(({ row }) => row.id === r.id)), ...merged] } as unknown as Pick<StoreData, ReferenceCollection>;
    const refs: RowProblem[] = problems.length ? [] : referenceProblems(c, merged, after);
    for (const p of refs) problems.push(`${file}: ${read.rows[p.index]!.where}: column ${p.column}: ${p.message}`);
    if (problems.length) return fail(problems);

    const added = merged.filter((r) => !byId.has(r.id)).length;
    const updated = merged.length - added;
    if (!opts.dryRun && store) {
      store.upsertRows(c, merged);
      await store.checkpoint();
    }
    if (!opts.dryRun && pg) await pg.upsertPgRows(config.store, c, merged);
    if (!opts.quiet) {
      process.stdout.write(opts.dryRun
        ? `${c}: would add ${added} and update ${updated} from ${printable(file)} (dry run: nothing was changed)\n`
        : `${c}: added ${added}, updated ${updated} from ${printable(file)}\n`);
    }
    return EX.OK;
  } finally {
    await store?.release();
  }
}

/** Dotted columns of a row: nested objects flattened, lists joined with `;`. */
function flatten(row: Row, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(row)) {
    const name = `${prefix}${k}`;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) flatten(v as Row, `${name}.`, out);
    else if (Array.isArray(v)) {
      if (v.some((x) => typeof x === 'object' || String(x).includes(';'))) throw new FileProblem(`column ${name} holds a list CSV cannot carry (use --format json)`);
      out[name] = v.join(';');
    } else out[name] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

const safeCell = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);

export async function runExport(type: string, opts: { store?: string; config?: string; format?: string }): Promise<number> {
  const c = collection(type);
  const format = opts.format ?? 'json';
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  let rows: Row[];
  if (isPgUrl(config.store)) {
    rows = await (await import('../store/pg/admin.js')).readPgCollection(config.store, c);
  } else {
    const store = await Store.open(defaultPaths(config.store, config.outbox), { lock: false, lockTimeoutMs: 0 });
    try {
      rows = (store.data as unknown as Record<ReferenceCollection, Row[]>)[c];
    } finally {
      await store.release();
    }
  }
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return EX.OK;
  }
  let flat: Record<string, string>[];
  try {
    flat = rows.map((r) => flatten(r));
  } catch (err) {
    if (!(err instanceof FileProblem)) throw err;
    process.stderr.write(`5.6.0 m4me: export ${c}: ${err.message}\n`);
    return EX.DATAERR;
  }
  const columns = [...new Set(['id', 'account', ...flat.flatMap((r) => Object.keys(r))])].filter((k) => flat.some((r) => k in r));
  const { stringify } = await import('csv-stringify/sync');
  process.stdout.write(stringify(flat.map((r) => columns.map((k) => safeCell(r[k] ?? ''))), { header: true, columns }));
  return EX.OK;
}

import chalk from 'chalk';
import { isPgUrl } from '../store/pg/url.js';
import { defaultPaths, Store } from '../store/store.js';
import { COLLECTION, RECORD_TYPES, type Note, type OtherRecord, type RecordType, type Request } from '../store/schema.js';
import { loadConfig } from './config.js';
import { STATUSES } from '../engine/options.js';
import { EX, UsageError } from './exit.js';

/** The option nearest to `word` by edit distance, if it is near (a typo, not another word). */
function closest(word: string, options: readonly string[]): string | null {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length]!;
  };
  const best = options.map((o) => [o, distance(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 4)) ? best[0] : null;
}
import { printable } from './terminal.js';

type AnyRecord = Request | OtherRecord;

function recordType(type: string): RecordType {
  const t = type.toLowerCase().replace(/-/g, '_').replace(/s$/, '') as RecordType;
  if (!RECORD_TYPES.includes(t)) throw new UsageError(`unknown record type "${type}" (one of: ${RECORD_TYPES.join(', ')})`);
  return t;
}

/** What show and list read: the lookups, and the collections as data. */
type Reading = Pick<Store, 'index' | 'data'>;

/**
 * The store for reading: a JSON store whole, or of a PostgreSQL store the reference data and
 * the rows of `type` the command shows (one record and its notes, or those created since).
 */
async function openForReading(opts: { store?: string; config?: string }, type: RecordType, only: { id?: number; since?: number | null }): Promise<Reading> {
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  if (isPgUrl(config.store)) {
    const { readPgRecords } = await import('../store/pg/read.js');
    return readPgRecords(config.store, type, only);
  }
  return Store.open(defaultPaths(config.store, config.outbox), { lock: false, lockTimeoutMs: 0 });
}

/** Field values with the IDs of people, teams, service instances and CIs named. */
function resolvedFields(store: Reading, record: AnyRecord): [string, string][] {
  const ix = store.index;
  const person = (id: unknown) => (typeof id === 'number' ? `${ix.person(id)?.name ?? '?'} (#${id})` : null);
  const named: Record<string, (v: unknown) => string | null> = {
    requested_by: person, requested_for: person, created_by: person, member: person, manager: person,
    team: (id) => (typeof id === 'number' ? `${ix.team(id)?.name ?? '?'} (#${id})` : null),
    service_instance: (id) => (typeof id === 'number' ? `${ix.serviceInstance(id)?.name ?? '?'} (#${id})` : null),
    ci: (id) => (typeof id === 'number' ? `${ix.ci(id)?.label ?? '?'} ${ix.ci(id)?.name ?? ''} (#${id})` : null),
    supplier: (id) => (typeof id === 'number' ? `${ix.organization(id)?.name ?? '?'} (#${id})` : null),
  };
  return Object.entries(record)
    .filter(([, v]) => v !== null && v !== undefined && !(typeof v === 'object' && Object.keys(v as object).length === 0))
    .map(([k, v]) => [k, (Object.hasOwn(named, k) ? named[k]!(v) : null) ?? (typeof v === 'object' ? JSON.stringify(v) : String(v))]);
}

export async function runShow(type: string, id: string, opts: { store?: string; config?: string; json: boolean }): Promise<number> {
  const t = recordType(type);
  if (!/^\d+$/.test(id)) throw new UsageError(`record ID must be a number, got "${id}"`);
  const store = await openForReading(opts, t, { id: Number(id) });
  const record = store.index.record(t, Number(id));
  if (!record) {
    process.stderr.write(`5.1.1 m4me: no ${t} with ID ${id}\n`);
    return EX.NOT_FOUND;
  }
  const notes: readonly Note[] = store.index.notesOf({ type: t, id: record.id });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ type: t, record, notes })}\n`);
    return EX.OK;
  }
  // Every value may come from mail: shown with its controls escaped (./terminal.ts).
  const lines = [chalk.bold(`${t} #${record.id}: ${printable(record.subject)}`)];
  for (const [k, v] of resolvedFields(store, record)) if (k !== 'id' && k !== 'subject') lines.push(`  ${chalk.dim(k.padEnd(22))} ${printable(v)}`);
  lines.push('', chalk.bold(`${notes.length} note${notes.length === 1 ? '' : 's'}`));
  for (const n of notes) {
    const who = store.index.person(n.person)?.name ?? `#${n.person}`;
    lines.push(`  ${chalk.cyan(`#${n.id}`)} ${n.created_at} ${printable(who)}${n.internal ? chalk.yellow(' (internal)') : ''}`);
    for (const l of n.text.split('\n')) lines.push(`    ${printable(l)}`);
    for (const a of n.attachments) lines.push(`    attachment   ${printable(`${a.filename} (${a.content_type}, ${a.size} bytes)`)} ${chalk.dim(printable(a.path))}`);
    for (const a of n.inline_images) lines.push(`    inline image ${printable(`${a.filename} <${a.content_id}> (${a.content_type}, ${a.size} bytes)`)} ${chalk.dim(printable(a.path))}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EX.OK;
}

/**
 * `--since`: a date (`2026-03-01`, midnight UTC), a date and time with an offset, or an age
 * (`36h`, `7d`, `2w`) counted back from now. Nothing looser: Date.parse reads "1" as 2001.
 */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  const age = /^(\d+)\s*([mhdw])$/i.exec(t);
  if (age) return now - Number(age[1]) * { m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[age[2]!.toLowerCase() as 'm']!;
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(t) || /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t);
  const ms = ok ? Date.parse(t.replace(' ', 'T')) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--since: expected a date (2026-03-01), a date and time with offset (2026-03-01T08:00:00+01:00) or an age (36h, 7d, 2w), got "${text}"`);
  return ms;
}

export interface ListOptions { store?: string; config?: string; json: boolean; since?: string; status?: string; team?: string; source?: string }

export async function runList(type: string, opts: ListOptions): Promise<number> {
  const t = recordType(type);
  const since = opts.since === undefined ? null : parseSince(opts.since);
  // A misspelt status would list nothing, silently: the Requests API's statuses are known.
  if (opts.status && t === 'request' && !STATUSES.includes(opts.status.toLowerCase() as never)) {
    const near = closest(opts.status.toLowerCase(), STATUSES);
    throw new UsageError(`--status: no request status "${opts.status}"${near ? ` (did you mean ${near}?)` : ''}; one of: ${STATUSES.join(', ')}`);
  }
  const store = await openForReading(opts, t, { since });
  const records = (store.data[COLLECTION[t]] as AnyRecord[])
    .filter((r) => since === null || Date.parse(r.created_at ?? '') >= since)
    .filter((r) => !opts.status || r.status?.toLowerCase() === opts.status.toLowerCase())
    .filter((r) => !opts.source || r.source?.toLowerCase() === opts.source.toLowerCase())
    .filter((r) => !opts.team || String(r.team) === opts.team || store.index.team(r.team as number)?.name.toLowerCase() === opts.team.toLowerCase())
    .sort((a, b) => Date.parse(b.created_at ?? '') - Date.parse(a.created_at ?? '') || b.id - a.id);
  if (opts.json) {
    process.stdout.write(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
    return EX.OK;
  }
  const rows = records.map((r) => [String(r.id), r.created_at ?? '', r.status, store.index.team(r.team as number)?.name ?? '', r.source ?? '', r.subject].map((c) => printable(String(c))));
  const head = ['ID', 'CREATED', 'STATUS', 'TEAM', 'SOURCE', 'SUBJECT'];
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${chalk.bold(fmt(head))}\n${rows.map(fmt).join('\n')}${rows.length ? '\n' : ''}${chalk.dim(`${rows.length} ${t}s`)}\n`);
  return EX.OK;
}

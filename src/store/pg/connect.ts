/**
 * Connections to a PostgreSQL store (CONTRACT §7): a pool opened from a `postgres://` or
 * `postgresql://` URL, read as libpq reads it (user, password or PGPASSWORD, host — a
 * socket folder too, `?host=/run/postgresql` —, port, database; the other PG* variables
 * apply), with connect and statement timeouts; and the mapping of every failure to a
 * TempFailure: the server unreachable, a timeout or a lost connection 4.3.0, a refused
 * login, a missing database or schema 4.3.5. No message ever carries the password.
 */
// Types only: the client is loaded when a store URL is opened, not by every command.
import type pg from 'pg';
import { TempFailure } from '../errors.js';
import { isPgUrl, redactUrl } from './url.js';

export { isPgUrl, redactUrl };

export interface PgOptions {
  /** Giving up on connecting (default: PGCONNECT_TIMEOUT seconds, else 10 s). */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout and client-side query timeout (default 30 s). */
  statementTimeoutMs?: number;
  /** Pool size (default 4: one delivery needs one connection). */
  max?: number;
}

/** An open pool, with the redacted URL that names it in messages. */
export interface PgDb {
  pool: pg.Pool;
  /** The URL as given (with its password): never put it in a message, use `label`. */
  url: string;
  /** The URL without its password, for messages. */
  label: string;
  close(): Promise<void>;
}

export async function openPool(url: string, opts: PgOptions = {}): Promise<PgDb> {
  const { default: client } = await import('pg');
  const envTimeout = Number(process.env.PGCONNECT_TIMEOUT);
  const connectTimeoutMs = opts.connectTimeoutMs ?? (envTimeout > 0 ? envTimeout * 1000 : 10_000);
  const statementTimeoutMs = opts.statementTimeoutMs ?? 30_000;
  const pool = new client.Pool({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    // Client side too: a server that vanished without a reset never answers.
    query_timeout: statementTimeoutMs + 5_000,
    keepAlive: true,
    max: opts.max ?? 4,
    application_name: process.env.PGAPPNAME ?? 'm4me',
  });
  // An idle connection that dies emits 'error' on the pool: the next query reports it.
  pool.on('error', () => undefined);
  const label = redactUrl(url);
  let closed = false;
  return {
    pool, label, url,
    async close() { if (!closed) { closed = true; await pool.end().catch(() => undefined); } },
  };
}

/** SQLSTATEs of a refused login or a missing database/schema: the operator must act (4.3.5). */
const CONFIG_STATES: Record<string, string> = {
  '28P01': 'login refused (wrong password)',
  '28000': 'login refused (no such role or not allowed)',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist (create it with m4me init)',
  '42P01': 'the m4me schema is missing (create it with m4me init)',
  '42501': 'permission denied',
};

/** Socket and timeout failures: the server unreachable or gone (4.3.0). */
const NET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused', ENOENT: 'no server socket there', ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed', ECONNRESET: 'connection reset', EPIPE: 'connection lost', EACCES: 'permission denied on the socket',
};

/** Every secret a message could carry: the URL's password, PGPASSWORD. */
function secretsOf(url: string): string[] {
  const out: string[] = [];
  try {
    const p = new URL(url).password;
    if (p) out.push(p, decodeURIComponent(p));
  } catch { /* not parseable: redactUrl still applies */ }
  const q = /[?&]password=([^&#]*)/i.exec(url)?.[1];
  if (q) out.push(q, decodeURIComponent(q));
  if (process.env.PGPASSWORD) out.push(process.env.PGPASSWORD);
  return out.filter((s) => s.length >= 1);
}

/** `text` with every secret of `url` replaced by `***`. */
export function redact(text: string, url: string): string {
  let out = redactUrl(text.includes(url) ? text.split(url).join(redactUrl(url)) : text);
  for (const s of secretsOf(url)) out = out.split(s).join('***');
  return out;
}

/**
 * A failure of PostgreSQL as the TempFailure of CONTRACT §7: 4.3.5 for what the operator
 * must fix (login, database, schema), 4.3.0 for everything a retry may cure.
 */
export function pgFailure(err: unknown, url: string, doing = 'store'): TempFailure {
  if (err instanceof TempFailure) return new TempFailure(err.status, redact(err.message, url));
  const e = err as { code?: string; message?: string; severity?: string };
  const where = `${doing} ${redactUrl(url)}`;
  const said = (e?.message ?? String(err)).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  const code = e?.code ?? '';
  let status = '4.3.0';
  let why: string;
  if (CONFIG_STATES[code]) { status = '4.3.5'; why = `${CONFIG_STATES[code]}: ${said}`; }
  else if (NET_CODES[code]) why = `cannot reach the server: ${NET_CODES[code]}`;
  else if (code === '57014') why = `statement timeout: ${said}`;
  else if (code === '57P01' || code === '57P02' || code === '57P03') why = `the server is shutting down or starting: ${said}`;
  else if (code === '53300') why = `too many connections: ${said}`;
  else if (code === '40001' || code === '40P01' || code === '55P03') why = `lock conflict, try again: ${said}`;
  else if (/timeout/i.test(said)) why = `timed out: ${said}`;
  else if (/terminated|Connection ended|not queryable|ended unexpectedly/i.test(said)) why = `connection lost: ${said}`;
  else why = code ? `${said} (SQLSTATE ${code})` : said;
  return new TempFailure(status, redact(`${where}: ${why}`, url));
}

/** Runs `fn` with one connection of the pool; every failure becomes a pgFailure. */
export async function withClient<T>(db: PgDb, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const url = db.url;
  let client: pg.PoolClient;
  try {
    client = await db.pool.connect();
  } catch (err) {
    throw pgFailure(err, url);
  }
  // A connection lost while in use emits 'error' on the client: the pending query rejects.
  const onError = () => undefined;
  client.on('error', onError);
  let broken = false;
  try {
    return await fn(client);
  } catch (err) {
    broken = !(err as { code?: string })?.code || /^(08|57)/.test((err as { code: string }).code);
    throw pgFailure(err, url);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on any error). */
export async function inTransaction<T>(db: PgDb, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(db, async (c) => {
    await c.query('BEGIN');
    try {
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Private PostgreSQL clusters for the tests, without jest: initdb in a temp folder, started
 * with pg_ctl as the `postgres` OS user (when the tests run as root; else as the current
 * user), listening on a unix socket in that folder only (no TCP), with password
 * (scram-sha-256) authentication so that a wrong password can be tested.
 *
 * test/pg/cluster.ts gives each test file its own (describePg); the PostgreSQL project of
 * the end-to-end suites (test/helpers/stores.ts) shares one, started by its global setup.
 * Needs Debian's postgresql (test/pg/setup.sh installs it as root).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WAIT_MS = 60_000;
const PG_USER = 'postgres';

export interface PgCluster {
  /** The socket folder (host=) of the running cluster. */
  socketDir: string;
  /** The superuser's password. */
  password: string;
  /** postgresql:// URL of this file's database (the password in it). */
  url: string;
  /** A URL of `database` on this cluster, with `password` (default: the right one). */
  urlOf(database: string, password?: string): string;
  /** Creates another empty database; returns its URL. */
  createDatabase(name: string): string;
  /** Runs SQL with psql as the superuser on `database`; returns stdout. */
  psql(sql: string, database?: string): string;
}

interface Cmd { code: number; stdout: string; stderr: string }

function binDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, 'bin') : null;
}

const BIN = binDir();
const asRoot = process.getuid?.() === 0;

function uidOf(user: string): { uid: number; gid: number } | null {
  const r = spawnSync('getent', ['passwd', user], { encoding: 'utf8' });
  const f = r.status === 0 ? r.stdout.split(':') : [];
  return f.length > 3 ? { uid: Number(f[2]), gid: Number(f[3]) } : null;
}

/** Why this machine cannot run PostgreSQL tests, or null. */
function unavailable(): string | null {
  if (process.env.M4ME_SKIP_PG === '1') return 'M4ME_SKIP_PG=1';
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (!BIN) return 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; test/pg/setup.sh installs it as root on Debian)';
  if (asRoot && !uidOf(PG_USER)) return `no ${PG_USER} user to run the cluster as`;
  if (asRoot && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'no runuser';
  return null;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Cmd {
  const full = asRoot ? ['runuser', ['-u', PG_USER, '--', cmd, ...args]] as const : [cmd, args] as const;
  const r = spawnSync(full[0], full[1], {
    encoding: 'utf8', timeout: WAIT_MS, cwd: '/',
    env: { PATH: `${BIN}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C', ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function must(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = run(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}`);
  return r.stdout;
}

export function startCluster(name: string): { cluster: PgCluster; stop: () => void } {
  const dir = mkdtempSync('/tmp/m4me-pg-');
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  if (asRoot) {
    const owner = uidOf(PG_USER)!;
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  chmodSync(dir, 0o700);
  must(join(BIN!, 'initdb'), ['-D', data, '-U', PG_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
  rmSync(pwfile);
  // A throwaway cluster: durability settings off for speed, unix socket in `dir` only.
  const opts = `-k ${dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const started = run(join(BIN!, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
  if (started.code !== 0) {
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
    throw new Error(`pg_ctl start exited ${started.code}: ${started.stderr.trim()}\n${log}`);
  }
  const dbName = `m4me_${name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`.slice(0, 60);
  const cluster = clusterAt(dir, password, dbName);
  cluster.createDatabase(dbName);
  const stop = () => {
    run(join(BIN!, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
  return { cluster, stop };
}

/**
 * The running cluster whose socket folder is `socketDir`, as a PgCluster (`database`: the
 * one `url` names); for a process other than the one that started it.
 */
export function clusterAt(socketDir: string, password: string, database = 'postgres'): PgCluster {
  const urlOf = (db: string, pw = password) =>
    `postgresql://${PG_USER}:${encodeURIComponent(pw)}@/${encodeURIComponent(db)}?host=${encodeURIComponent(socketDir)}`;
  const psql = (sql: string, db = 'postgres') =>
    must(join(BIN!, 'psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-U', PG_USER, '-d', db, '-c', sql], { PGPASSWORD: password });
  const createDatabase = (db: string) => { psql(`CREATE DATABASE "${db}"`); return urlOf(db); };
  return { socketDir, password, url: urlOf(database), urlOf, createDatabase, psql };
}

/** Why PostgreSQL tests cannot run here, or true. */
export const PG_AVAILABLE: true | string = unavailable() ?? true;


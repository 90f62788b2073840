/**
 * The store an end-to-end suite runs against. jest.config.js runs test/e2e twice: in the
 * project `default` every store is a JSON file, as before; in the project `e2e-pg` (jest
 * global M4ME_TEST_STORE = 'pg') every store is a fresh PostgreSQL database on the
 * project's one private cluster (test/pg/e2e-global.ts), loaded by the real CLI
 * (`m4me copy-store`, `m4me init --store URL`) with the document the JSON run starts from,
 * and read back through `m4me copy-store URL FILE` (readStore, storeBytes in ./cli.ts),
 * which is byte for byte the document the JSON store would hold (CONTRACT §7).
 *
 * Every e2e file says which it is, visibly:
 *  - describeStores(title, body): runs in both projects (titled "… [PostgreSQL store]" in
 *    e2e-pg); where PostgreSQL is unavailable, skipped there with a notice, failing under
 *    CI=true (test/pg/cluster.ts);
 *  - describeJsonOnly(reason, title, body): runs in `default` only; e2e-pg shows one
 *    skipped test saying why;
 *  - inside describeStores, testJsonOnly(reason) for a test about the JSON file itself.
 * test/helpers/stores.test.ts checks that every e2e file uses them.
 *
 * A PostgreSQL store's outbox and quarantine are beside the configuration (or in the working
 * folder without one): a store from testStore(dir) belongs to `dir`, runCli runs a command
 * that names it there, and outboxOf / quarantineOf say where they are for either kind.
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';
import type { StoreData } from '../../src/store/schema.js';
import { isPgUrl } from '../../src/store/pg/url.js';
import { skippedWithoutPg } from '../pg/cluster.js';
import { clusterAt, type PgCluster } from '../pg/server.js';
import { demoStoreFile, runCli, type Run, STORE_FOLDERS, tempDir } from './cli.js';

/** Which store this run of the suites uses. */
export const STORE_KIND: 'json' | 'pg' = (globalThis as { M4ME_TEST_STORE?: string }).M4ME_TEST_STORE === 'pg' ? 'pg' : 'json';
export const PG = STORE_KIND === 'pg';

const DEMO_TEMPLATE = 'm4me_demo'; // test/pg/e2e-global.ts
const created: string[] = [];
let serial = 0;
let shared: PgCluster | null = null;
let admin: pg.Client | null = null;
/** Databases loaded by copy-store with a changed demo document, by the document's sha256: copied for the next test that asks for the same. */
const loaded = new Map<string, string>();
/** The database of each store URL handed out. */
const DATABASES = new Map<string, string>();

/** The URL of database `name`, a store of the site folder `dir`. */
function siteStore(name: string, dir: string): string {
  const url = cluster().urlOf(name);
  DATABASES.set(url, name);
  STORE_FOLDERS.set(url, dir);
  return url;
}

/** The e2e-pg project's cluster (test/pg/e2e-global.ts). */
function cluster(): PgCluster {
  if (process.env.M4ME_E2E_PG_ERROR) throw new Error(process.env.M4ME_E2E_PG_ERROR);
  if (!shared) {
    const info = process.env.M4ME_E2E_PG;
    if (!info) throw new Error('no PostgreSQL cluster: the e2e-pg project starts one in its globalSetup (test/pg/e2e-setup.mjs)');
    const { socketDir, password } = JSON.parse(info) as { socketDir: string; password: string };
    shared = clusterAt(socketDir, password);
  }
  return shared;
}

/** A new database (a copy of `template`); its name. One connection per test file does it (psql costs a process each time). */
async function newDatabase(template?: string): Promise<string> {
  if (!admin) {
    admin = new pg.Client({ connectionString: cluster().urlOf('postgres') });
    await admin.connect();
  }
  const name = `e2e_${process.pid}_${++serial}`;
  await admin.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}" STRATEGY FILE_COPY` : ''}`);
  created.push(name);
  return name;
}

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

/**
 * A fresh demo store (changed by `mutate`) for a test's site folder `dir`; returns what
 * `--store` and a configuration's `store` take: the JSON file `dir/store.json`, or the URL
 * of a new database holding the same document (the unchanged demo copied from the
 * template; a changed one written to a file first and loaded with `m4me copy-store` into
 * a database that is copied again for the next test of the file that asks for the same).
 */
export async function testStore(dir = tempDir(), mutate?: (s: StoreData) => void): Promise<string> {
  if (!PG) return demoStoreFile(dir, mutate);
  let template = DEMO_TEMPLATE;
  if (mutate) {
    const seed = demoStoreFile(tempDir('m4me-seed-'), mutate);
    const key = createHash('sha256').update(readFileSync(seed)).digest('hex');
    if (!loaded.has(key)) {
      const name = await newDatabase();
      ok('copy-store into a new database', await runCli(['copy-store', seed, cluster().urlOf(name), '--quiet']));
      loaded.set(key, name);
    }
    template = loaded.get(key)!;
  }
  return siteStore(await newDatabase(template), dir);
}

/**
 * The store of a site folder that was copied to `dir` (cpSync): the file that came with it,
 * or, for a PostgreSQL store, a new database copied from the store's (CREATE DATABASE …
 * TEMPLATE: no command may be using that one).
 */
export async function copiedTestStore(store: string, dir: string): Promise<string> {
  if (!isPgUrl(store)) return join(dir, relative(siteFolder(store), store));
  const from = DATABASES.get(store);
  if (!from) throw new Error(`not a store of testStore: ${store}`);
  return siteStore(await newDatabase(from), dir);
}

/** Where `m4me init --store` can make a store: the file `dir/name` (not there yet), or a new database without the schema. */
export async function absentTestStore(dir = tempDir(), name = 'store.json'): Promise<string> {
  if (!PG) return join(dir, name);
  return siteStore(await newDatabase(), dir);
}

/** A fresh empty store made by `m4me init --store` (`dir/store.json`, or a new database). */
export async function emptyTestStore(dir = tempDir()): Promise<string> {
  const store = await absentTestStore(dir);
  ok('init', await runCli(['init', '--store', store, '--quiet']));
  return store;
}

/** The site folder of a store from testStore: the JSON file's folder, or the one it was made for. */
export function siteFolder(store: string): string {
  if (!isPgUrl(store)) return dirname(store);
  const dir = STORE_FOLDERS.get(store);
  if (!dir) throw new Error(`not a store of testStore: ${store}`);
  return dir;
}

/** The outbox when none is configured: beside the file store; for a URL, in the site folder (CONTRACT §7). */
export const outboxOf = (store: string) => (isPgUrl(store) ? join(siteFolder(store), 'm4me.outbox') : `${store}.outbox`);
/** The quarantine when none is configured, as outboxOf. */
export const quarantineOf = (store: string) => (isPgUrl(store) ? join(siteFolder(store), 'm4me.quarantine') : `${store}.quarantine`);
/** `store` as a configuration file in `configDir` names it: a file relative to it, a URL as it is. */
export const storeInConfig = (store: string, configDir: string) => (isPgUrl(store) ? store : relative(configDir, store));

/** `m4me import TYPE FILE` into the store (a JSON file or a PostgreSQL database alike). */
export function importInto(store: string, type: string, file: string): Promise<Run> {
  return runCli(['import', type, file, '--store', store]);
}

/** `describe` in both projects: against JSON files, and against PostgreSQL stores in e2e-pg. */
export function describeStores(title: string, body: () => void): void {
  if (!PG) {
    describe(title, body);
    return;
  }
  const pgTitle = `${title} [PostgreSQL store]`;
  if (skippedWithoutPg(pgTitle, body)) return;
  describe(pgTitle, () => {
    beforeAll(() => { cluster(); });
    afterAll(async () => {
      // This file's databases; the cluster itself goes at the end of the project.
      const client = admin;
      admin = null;
      loaded.clear();
      if (!client) return;
      for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    });
    body();
  });
}

/** `describe` in the project `default` only; e2e-pg shows it as one skipped test with the reason. */
export function describeJsonOnly(reason: string, title: string, body: () => void): void {
  if (!PG) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    test.skip(`JSON store only: ${reason}`, () => undefined);
  });
}

type TestFn = (name: string, fn: () => Promise<unknown> | void, timeout?: number) => void;

/** A test of the JSON file itself, inside describeStores: skipped in e2e-pg, the reason in its name. */
export function testJsonOnly(reason: string): TestFn {
  if (!PG) return test;
  return (name, fn, timeout) => test.skip(`${name} [JSON store only: ${reason}]`, fn as () => Promise<void>, timeout);
}

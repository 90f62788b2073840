/**
 * Global setup of the jest project `e2e-pg` (jest.config.js; run by test/pg/e2e-setup.mjs,
 * stopped by test/pg/e2e-teardown.mjs): the end-to-end
 * suites run again with PostgreSQL stores (test/helpers/stores.ts). One private cluster
 * (test/pg/server.ts) serves the whole project: started here once, stopped at the end.
 * It also holds `m4me_demo`, the demo store loaded by the real CLI (`m4me copy-store`)
 * from the file demoStoreFile writes, which each test's database is made from
 * (CREATE DATABASE … TEMPLATE).
 *
 * The test processes learn of it from M4ME_E2E_PG (JSON: socket folder and password); a
 * cluster that failed to start is M4ME_E2E_PG_ERROR, which every suite then fails with.
 * Where PostgreSQL is unavailable nothing is started, and the suites skip with a notice
 * (fail under CI=true), as test/pg/cluster.ts does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoStore } from '../../src/store/demo.js';
import { PG_AVAILABLE, startCluster } from './server.js';

export const DEMO_TEMPLATE = 'm4me_demo';

/** The running cluster's stop, for the teardown (same process). */
const g = globalThis as { m4meE2ePgStop?: () => void };

/** Starts the cluster and loads the template; `root` is the checkout (bin/m4me.js). */
export async function setup(root: string): Promise<void> {
  delete process.env.M4ME_E2E_PG;
  delete process.env.M4ME_E2E_PG_ERROR;
  if (PG_AVAILABLE !== true) return;
  try {
    const handle = startCluster('e2e');
    g.m4meE2ePgStop = handle.stop;
    const c = handle.cluster;
    const seed = mkdtempSync(join(tmpdir(), 'm4me-e2epg-'));
    try {
      writeFileSync(join(seed, 'store.json'), JSON.stringify(demoStore()));
      const url = c.createDatabase(DEMO_TEMPLATE);
      const r = spawnSync(process.execPath, [join(root, 'bin', 'm4me.js'), 'copy-store', join(seed, 'store.json'), url, '--quiet'], { encoding: 'utf8', cwd: seed });
      if (r.status !== 0) throw new Error(`m4me copy-store into ${DEMO_TEMPLATE} exited ${r.status}: ${r.stderr}${r.stdout}`);
    } finally {
      rmSync(seed, { recursive: true, force: true });
    }
    process.env.M4ME_E2E_PG = JSON.stringify({ socketDir: c.socketDir, password: c.password });
  } catch (err) {
    process.env.M4ME_E2E_PG_ERROR = `the PostgreSQL cluster of the e2e-pg project did not start: ${(err as Error).message}`;
  }
}

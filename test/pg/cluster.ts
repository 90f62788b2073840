/**
 * A private PostgreSQL cluster for the tests of one file: initdb in a temp folder, started
 * with pg_ctl as the `postgres` OS user (when the tests run as root; else as the current
 * user), listening on a unix socket in that folder only (no TCP), with password
 * (scram-sha-256) authentication so that a wrong password can be tested. Each test file
 * gets its own database; the cluster is stopped and its folder removed after the file.
 *
 * Needs Debian's postgresql (test/pg/setup.sh installs it as root). Where it cannot be
 * had, the suite is skipped with a visible notice, except under CI=true, where one failing
 * test says why. M4ME_SKIP_PG=1 skips on purpose (also under CI).
 */
import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { PG_AVAILABLE, type PgCluster, startCluster, WAIT_MS } from './server.js';

export { PG_AVAILABLE, type PgCluster } from './server.js';

/**
 * Where PostgreSQL cannot be had: the block `title` (whose tests `body` registers) skipped
 * with a visible notice, or, under CI=true, one failing test that says why. Returns false,
 * doing nothing, where PostgreSQL is available.
 */
export function skippedWithoutPg(title: string, body: () => void): boolean {
  if (PG_AVAILABLE === true) return false;
  if (process.env.CI === 'true' && process.env.M4ME_SKIP_PG !== '1') {
    describe(title, () => {
      test('PostgreSQL is available (required under CI=true)', () => {
        throw new Error(`PostgreSQL tests cannot run: ${PG_AVAILABLE}`);
      });
    });
    return true;
  }
  console.warn(`NOTICE: the PostgreSQL tests "${title}" are skipped: ${PG_AVAILABLE}`);
  describe.skip(title, body);
  return true;
}

/**
 * A describe block with a private cluster: `body` gets a getter for it (valid inside tests
 * and hooks). Skipped with a notice where PostgreSQL is unavailable; under CI=true that
 * absence is one failing test instead.
 */
export function describePg(title: string, body: (pg: () => PgCluster) => void): void {
  if (skippedWithoutPg(title, () => body(() => { throw new Error('no cluster'); }))) return;
  describe(title, () => {
    let handle: ReturnType<typeof startCluster> | null = null;
    beforeAll(() => { handle = startCluster(title); }, WAIT_MS * 2);
    afterAll(() => { handle?.stop(); handle = null; }, WAIT_MS);
    body(() => {
      if (!handle) throw new Error('the PostgreSQL cluster did not start');
      return handle.cluster;
    });
  });
}

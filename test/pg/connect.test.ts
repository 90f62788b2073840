/**
 * src/store/pg/connect.ts against a real server: every failure is a TempFailure with the
 * status of CONTRACT §7, and no message carries the password.
 */
import { expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { TempFailure } from '../../src/store/errors.js';
import { inTransaction, openPool, redactUrl, withClient } from '../../src/store/pg/connect.js';
import { describePg } from './cluster.js';

async function failure(url: string, fn: (c: import('pg').PoolClient) => Promise<unknown> = (c) => c.query('SELECT 1'), opts = {}): Promise<TempFailure> {
  const db = await openPool(url, opts);
  try {
    await withClient(db, fn);
  } catch (err) {
    return err as TempFailure;
  } finally {
    await db.close();
  }
  throw new Error('no failure');
}

test('redactUrl hides the password of every URL form', () => {
  expect(redactUrl('postgresql://m4me:s3cr%40t@db.example:5433/m4me')).toBe('postgresql://m4me:***@db.example:5433/m4me');
  expect(redactUrl('postgres://m4me:pw@/m4me?host=/run/postgresql')).toBe('postgres://m4me:***@/m4me?host=/run/postgresql');
  expect(redactUrl('postgres://m4me@/m4me?host=/run/postgresql&password=pw&sslmode=require')).toBe('postgres://m4me@/m4me?host=/run/postgresql&password=***&sslmode=require');
  expect(redactUrl('postgres:///m4me')).toBe('postgres:///m4me');
});

describePg('PostgreSQL connections', (pgc) => {
  test('a wrong password is 4.3.5, naming the refusal, without the password', async () => {
    const c = pgc();
    const secret = 'Wr0ng-S3cret-pw';
    const f = await failure(c.urlOf('postgres', secret));
    expect(f).toBeInstanceOf(TempFailure);
    expect(f.status).toBe('4.3.5');
    expect(f.message).toMatch(/login refused \(wrong password\)/);
    expect(f.message).toContain('postgresql://postgres:***@/postgres?host=');
    expect(f.message).not.toContain(secret);
  });

  test('PGPASSWORD is used when the URL has none, and never printed', async () => {
    const c = pgc();
    const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(c.socketDir)}`;
    const saved = process.env.PGPASSWORD;
    try {
      process.env.PGPASSWORD = c.password;
      const db = await openPool(url);
      const r = await withClient(db, (cl) => cl.query<{ one: number }>('SELECT 1 AS one'));
      await db.close();
      expect(r.rows[0]!.one).toBe(1);
      process.env.PGPASSWORD = 'not-the-Password-42';
      const f = await failure(url, (cl) => cl.query(`SELECT 'not-the-Password-42'::int`));
      expect(f.status).toBe('4.3.5');
      expect(f.message).not.toContain('not-the-Password-42');
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD; else process.env.PGPASSWORD = saved;
    }
  });

  test('a missing database is 4.3.5', async () => {
    const f = await failure(pgc().urlOf('no_such_db'));
    expect(f.status).toBe('4.3.5');
    expect(f.message).toMatch(/the database does not exist/);
    expect(f.message).not.toContain(pgc().password);
  });

  test('no server at the socket folder is 4.3.0 (unreachable)', async () => {
    const empty = mkdtempSync('/tmp/m4me-nopg-');
    const f = await failure(`postgresql://m4me:pw@/m4me?host=${encodeURIComponent(empty)}`);
    expect(f.status).toBe('4.3.0');
    expect(f.message).toMatch(/cannot reach the server/);
    expect(f.message).not.toContain(':pw@');
  });

  test('a statement timeout is 4.3.0', async () => {
    const f = await failure(pgc().url, (cl) => cl.query('SELECT pg_sleep(5)'), { statementTimeoutMs: 200 });
    expect(f.status).toBe('4.3.0');
    expect(f.message).toMatch(/statement timeout/);
  });

  test('a connection lost mid-transaction is 4.3.0 and nothing of it is applied', async () => {
    const c = pgc();
    c.psql('CREATE TABLE lost (n int)', `m4me_${'PostgreSQL connections'.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`);
    const db = await openPool(c.url);
    let caught: unknown;
    try {
      await inTransaction(db, async (cl) => {
        await cl.query('INSERT INTO lost VALUES (1)');
        const pid = (await cl.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        c.psql(`SELECT pg_terminate_backend(${pid})`);
        await cl.query('INSERT INTO lost VALUES (2)');
      });
    } catch (err) { caught = err; }
    expect(caught).toBeInstanceOf(TempFailure);
    expect((caught as TempFailure).status).toBe('4.3.0');
    const n = await withClient(db, (cl) => cl.query<{ n: string }>('SELECT count(*) AS n FROM lost'));
    await db.close();
    expect(n.rows[0]!.n).toBe('0');
  });
});

/** src/store/pg/schema.ts: versioned migrations against a real server. */
import { expect, test } from '@jest/globals';
import { TempFailure } from '../../src/store/errors.js';
import { openPool, withClient } from '../../src/store/pg/connect.js';
import { checkSchema, migrate, SCHEMA_VERSION, syncSequences } from '../../src/store/pg/schema.js';
import { describePg } from './cluster.js';

async function withDb<T>(url: string, fn: (db: Awaited<ReturnType<typeof openPool>>) => Promise<T>): Promise<T> {
  const db = await openPool(url);
  try { return await fn(db); } finally { await db.close(); }
}

describePg('PostgreSQL schema migrations', (pgc) => {
  test('a fresh database is created at the current version; a second migrate changes nothing', async () => {
    const c = pgc();
    const url = c.createDatabase('fresh');
    await withDb(url, async (db) => {
      await expect(checkSchema(db)).rejects.toMatchObject({ status: '4.3.5', message: expect.stringMatching(/no m4me schema .*m4me init/) });
      expect(await migrate(db)).toEqual({ from: null, to: SCHEMA_VERSION });
      await checkSchema(db);
      const before = c.psql(`SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 'm4me%'`, 'fresh');
      expect(before).toMatch(/m4me_records:r/);
      expect(before).toMatch(/m4me_inbound_key_attempt_key:i/);
      expect(before).toMatch(/m4me_record_id_seq:S/);
      const applied = c.psql('SELECT version, applied_at FROM m4me_schema', 'fresh');
      expect(await migrate(db)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
      expect(c.psql('SELECT version, applied_at FROM m4me_schema', 'fresh')).toBe(applied);
      expect(c.psql(`SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 'm4me%'`, 'fresh')).toBe(before);
      // The allocators start at the floors of CONTRACT §3.
      const next = await withClient(db, async (cl) => {
        await syncSequences(cl);
        return (await cl.query<{ r: string; n: string }>(`SELECT nextval('m4me_record_id_seq') AS r, nextval('m4me_note_id_seq') AS n`)).rows[0];
      });
      expect(next).toEqual({ r: '100000', n: '900001' });
    });
  });

  test('two migrations at once: one creates, the other finds it done', async () => {
    const url = pgc().createDatabase('racing');
    const results = await Promise.all([0, 1, 2].map(() => withDb(url, migrate)));
    expect(results.filter((r) => r.from === null)).toHaveLength(1);
    expect(results.filter((r) => r.from === SCHEMA_VERSION)).toHaveLength(2);
  });

  test('a schema newer than this m4me is refused with 4.3.5 and left unchanged', async () => {
    const c = pgc();
    const url = c.createDatabase('newer');
    await withDb(url, migrate);
    c.psql(`INSERT INTO m4me_schema (version) VALUES (${SCHEMA_VERSION + 1}); CREATE TABLE m4me_future (x int)`, 'newer');
    const dump = () => c.psql(`SELECT string_agg(version::text, ',' ORDER BY version) FROM m4me_schema`, 'newer')
      + c.psql(`SELECT count(*) FROM pg_class WHERE relname LIKE 'm4me%'`, 'newer');
    const before = dump();
    for (const f of [migrate, checkSchema]) {
      const err = await withDb(url, f as (db: Awaited<ReturnType<typeof openPool>>) => Promise<unknown>).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(TempFailure);
      expect(err).toMatchObject({ status: '4.3.5', message: expect.stringMatching(new RegExp(`schema version ${SCHEMA_VERSION + 1} is newer than this m4me`)) });
      expect((err as Error).message).not.toContain(c.password);
    }
    expect(dump()).toBe(before);
  });
});

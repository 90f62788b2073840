/** The private cluster of test/pg/cluster.ts: up, on a socket only, password required. */
import { expect, test } from '@jest/globals';
import pg from 'pg';
import { describePg } from './cluster.js';

describePg('private PostgreSQL cluster', (pgc) => {
  test('accepts the password on its unix socket, refuses a wrong one, has no TCP listener', async () => {
    const c = pgc();
    expect(c.url).toMatch(/^postgresql:\/\/postgres:[^@]+@\/m4me_\w+\?host=%2Ftmp%2Fm4me-pg-/);
    const client = new pg.Client({ connectionString: c.url });
    await client.connect();
    const r = await client.query<{ db: string; la: string }>("SELECT current_database() AS db, current_setting('listen_addresses') AS la");
    await client.end();
    expect(r.rows[0]).toEqual({ db: 'm4me_private_postgresql_cluster', la: '' });
    const bad = new pg.Client({ connectionString: c.urlOf('postgres', 'wrong') });
    await expect(bad.connect()).rejects.toMatchObject({ code: '28P01' });
  });
});

/**
 * `m4me process` on a PostgreSQL store when the database is in the way: a lock it cannot
 * get is retried a bounded number of times, then 75 4.3.0; a connection lost in the middle
 * of the message's transaction is 75 4.3.0 with nothing applied and no reply queued; the
 * message delivered again afterwards is processed once.
 */
import { afterEach, beforeAll, expect, test } from '@jest/globals';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { CONFIG } from '../decisions/cases.js';
import { DEMO_NOW, demoStoreFile, jsonLines, ROOT, runCli, type Run, tempDir } from '../helpers/cli.js';
import { describePg } from './cluster.js';

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

const EML = join(ROOT, 'samples', '01-end-user-request.eml');

describePg('process on a PostgreSQL store in trouble', (pgc) => {
  let start = '';
  const holders: pg.Client[] = [];
  beforeAll(() => { start = demoStoreFile(tempDir()); });
  afterEach(async () => { for (const h of holders.splice(0)) await h.end().catch(() => undefined); });

  const setup = async (name: string) => {
    const url = pgc().createDatabase(name);
    ok('copy-store', await runCli(['copy-store', start, url, '--quiet']));
    const dir = tempDir();
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    // Another session holding the ledger table: a delivery's insert into it waits.
    const holder = new pg.Client({ connectionString: url });
    holders.push(holder);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE m4me_inbound IN EXCLUSIVE MODE');
    const ledger = () => pgc().psql(`SELECT count(*) FROM m4me_inbound`, name).trim();
    return { url, dir, config, holder, ledger };
  };

  test('a lock held past lock_timeout, every retry: 75 4.3.0, one line, nothing applied', async () => {
    const { url, dir, config, holder, ledger } = await setup('locked');
    const t0 = Date.now();
    const r = await runCli(['process', '--config', config, '--store', url, '--now', DEMO_NOW, EML], { env: { M4ME_PG_LOCK_TIMEOUT_MS: '200' } });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 75, stdout: '' });
    expect(r.stderr).toMatch(/^4\.3\.0 m4me: store postgresql:\/\/postgres:\*\*\*@\S+: lock conflict, try again: [^\n]* \(gave up after 8 retries\)\n$/);
    expect(r.stderr).not.toContain(pgc().password);
    // Nine attempts, each waiting out the lock timeout.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9 * 200);
    await holder.query('ROLLBACK');
    expect(ledger()).toBe('0');
    expect(existsSync(join(dir, 'm4me.outbox')) ? readdirSync(join(dir, 'm4me.outbox')) : []).toEqual([]);
    // The lock gone, the retry of the mail system is processed.
    const again = ok('again', await runCli(['process', '--json', '--config', config, '--store', url, '--now', DEMO_NOW, EML]));
    expect(jsonLines(again.stdout)[0]!.outcome).toBe('request_created');
    expect(ledger()).toBe('1');
  });

  test('the connection lost mid-transaction: 75 4.3.0, nothing half-applied; delivered again, processed once', async () => {
    const { url, dir, config, holder, ledger } = await setup('lost');
    const running = runCli(['process', '--config', config, '--store', url, '--now', DEMO_NOW, EML]);
    // Wait until the delivery is inside its transaction, blocked on the ledger, then end its connection.
    let killed = 0;
    for (let i = 0; i < 200 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      // From another session: the holder's transaction sees one snapshot of pg_stat_activity.
      killed = Number(pgc().psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE application_name = 'm4me' AND wait_event_type = 'Lock'`, 'lost').trim());
    }
    expect(killed).toBe(1);
    const r = await running;
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 75, stdout: '' });
    expect(r.stderr).toMatch(/^4\.3\.0 m4me: store postgresql:\/\/postgres:\*\*\*@\S+: [^\n]*\n$/);
    await holder.query('ROLLBACK');
    // Nothing of it: no ledger entry, no request, no note, no reply row or file.
    expect(ledger()).toBe('0');
    expect(pgc().psql(`SELECT count(*) FROM m4me_records WHERE message_id = 'demo-01@widget.example'`, 'lost').trim()).toBe('0');
    expect(pgc().psql(`SELECT count(*) FROM m4me_notes WHERE message_id = 'demo-01@widget.example'`, 'lost').trim()).toBe('0');
    expect(pgc().psql(`SELECT count(*) FROM m4me_auto_replies`, 'lost').trim()).toBe('0');
    expect(existsSync(join(dir, 'm4me.outbox')) ? readdirSync(join(dir, 'm4me.outbox')) : []).toEqual([]);
    const again = ok('again', await runCli(['process', '--json', '--config', config, '--store', url, '--now', DEMO_NOW, EML]));
    expect(jsonLines(again.stdout)[0]!.outcome).toBe('request_created');
    const twice = ok('twice', await runCli(['process', '--json', '--config', config, '--store', url, '--now', DEMO_NOW, EML]));
    expect(jsonLines(twice.stdout)[0]!.outcome).toBe('duplicate');
    expect(ledger()).toBe('1');
    expect(readdirSync(join(dir, 'm4me.outbox')).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
  });
});

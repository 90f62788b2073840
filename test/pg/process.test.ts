/**
 * `m4me process`, `show` and `list` on a PostgreSQL store, through the CLI, against the JSON
 * store as the reference: the demo archive (samples/demo.mbox: requests, notes, event
 * matching, rejections, attachments, a duplicate) replayed into both from the same store
 * gives the same output, the same outbox and attachment files, and a PostgreSQL store that
 * copies back to the JSON store's file byte for byte; show and list print the same. A dry
 * run changes nothing; an unreachable server or a missing schema is one line and 75.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONFIG } from '../decisions/cases.js';
import { DEMO_NOW, demoStoreFile, eml, ROOT, runCli, type Run, tempDir } from '../helpers/cli.js';
import { snapshot } from '../reliability/helpers.js';
import { describePg } from './cluster.js';

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

describePg('process, show and list on a PostgreSQL store', (pgc) => {
  let dir = '';
  let url = '';
  const json = { config: '', store: '' };
  let pgConfig = '';
  let runs: { json: Run; pg: Run };

  beforeAll(async () => {
    dir = tempDir('m4me-pgproc-');
    mkdirSync(join(dir, 'json'));
    mkdirSync(join(dir, 'pg'));
    json.store = demoStoreFile(join(dir, 'json'));
    json.config = join(dir, 'json', 'm4me.json');
    pgConfig = join(dir, 'pg', 'm4me.json');
    writeFileSync(json.config, JSON.stringify(CONFIG));
    writeFileSync(pgConfig, JSON.stringify(CONFIG));
    url = pgc().createDatabase('replay');
    ok('copy-store', await runCli(['copy-store', json.store, url, '--quiet']));
    const args = (config: string, store: string) => ['process', '--json', '--config', config, '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')];
    const [a, b] = await Promise.all([runCli(args(json.config, json.store)), runCli(args(pgConfig, url))]);
    runs = { json: ok('json', a), pg: ok('pg', b) };
  });

  test('the demo archive: the same results, outbox and files; copied back, the JSON store\'s file byte for byte', async () => {
    expect(runs.pg.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(20);
    expect(runs.pg.stdout).toBe(runs.json.stdout);
    expect(runs.pg.stderr).toBe(runs.json.stderr);
    expect(runs.pg.stdout).toMatch(/"outcome":"duplicate"/);
    expect(runs.pg.stdout).toMatch(/"rule":"match\.event"/);
    const back = join(mkdtempSync(join(dir, 'back-')), 'store.json');
    ok('copy back', await runCli(['copy-store', url, back, '--quiet']));
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(json.store, 'utf8'));
    const files = snapshot(`${json.store}.files`);
    expect(Object.keys(files).length).toBeGreaterThan(0);
    expect(snapshot(`${back}.files`)).toEqual(files);
    const outbox = snapshot(`${json.store}.outbox`);
    expect(Object.keys(outbox).length).toBeGreaterThan(5);
    expect(snapshot(join(dir, 'pg', 'm4me.outbox'))).toEqual(outbox);
    // Replayed again: every message is a duplicate, on both.
    const again = await runCli(['process', '--json', '--config', pgConfig, '--store', url, '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')]);
    const outcomes = ok('again', again).stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { outcome: string }).outcome);
    expect(outcomes.filter((o) => o !== 'duplicate' && o !== 'failed')).toEqual([]);
  });

  test('m4me log (and --explain, --json, filters) prints what it prints for the JSON store', async () => {
    const commands = [
      ['log'], ['log', '--json'], ['log', '--explain'], ['log', '--json', '--explain', '--outcome', 'rejected'],
      ['log', '--from', 'ellen.brown@widget.example'], ['log', '--since', '2026-03-01'],
    ];
    for (const c of commands) {
      const [a, b] = await Promise.all([runCli([...c, '--config', json.config, '--store', json.store]), runCli([...c, '--config', pgConfig, '--store', url])]);
      expect({ c, code: b.code, stdout: b.stdout, stderr: b.stderr }).toEqual({ c, code: a.code, stdout: a.stdout, stderr: a.stderr });
    }
    const explained = await runCli(['log', '--json', '--explain', '--config', pgConfig, '--store', url]);
    const rows = explained.stdout.trim().split('\n').map((l) => JSON.parse(l) as { trace: unknown[]; subject: string | null });
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.every((r) => r.trace.length > 0 && r.subject !== null)).toBe(true);
  });

  test('show and list print what they print for the JSON store', async () => {
    const commands = [
      ['show', 'request', '100042'], ['show', 'request', '100046', '--json'], ['show', 'problem', '100010'],
      ['show', 'request', '12'], ['list', 'requests'], ['list', 'request', '--json', '--since', '2026-03-02'],
      ['list', 'request', '--team', '2002', '--status', 'assigned'], ['list', 'problems', '--json'],
    ];
    for (const c of commands) {
      const [a, b] = await Promise.all([runCli([...c, '--config', json.config, '--store', json.store]), runCli([...c, '--config', pgConfig, '--store', url])]);
      expect({ c, code: b.code, stdout: b.stdout, stderr: b.stderr }).toEqual({ c, code: a.code, stdout: a.stdout, stderr: a.stderr });
    }
    const shown = await runCli(['show', 'request', '100042', '--json', '--config', pgConfig, '--store', url]);
    expect((JSON.parse(shown.stdout) as { notes: unknown[] }).notes.length).toBeGreaterThan(0);
  });

  test('a dry run changes nothing in the database and writes no file', async () => {
    const c = pgc();
    const fresh = c.createDatabase('dry');
    const start = demoStoreFile(tempDir());
    ok('copy-store', await runCli(['copy-store', start, fresh, '--quiet']));
    const d = tempDir();
    const config = join(d, 'm4me.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    const r = ok('dry run', await runCli(['process', '--dry-run', '--json', '--config', config, '--store', fresh, '--now', DEMO_NOW, join(ROOT, 'samples', '01-end-user-request.eml')]));
    expect(r.stdout).toMatch(/"outcome":"request_created".*"dry_run":true/);
    const back = join(d, 'back.json');
    ok('copy back', await runCli(['copy-store', fresh, back, '--quiet']));
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(start, 'utf8'));
    expect(readdirSync(d).sort()).toEqual(['back.json', 'm4me.json']);
  });

  test('outbox --send sends the replies the database recorded', async () => {
    const c = pgc();
    const fresh = c.createDatabase('outbox');
    ok('copy-store', await runCli(['copy-store', demoStoreFile(tempDir()), fresh, '--quiet']));
    const d = tempDir();
    const sent = join(d, 'sent.txt');
    const sendmail = join(d, 'sendmail.sh');
    writeFileSync(sendmail, `#!/bin/sh\ncat >> ${sent}\necho ---- >> ${sent}\n`, { mode: 0o755 });
    const config = join(d, 'm4me.json');
    writeFileSync(config, JSON.stringify({ ...CONFIG, sendmail }));
    const r = ok('process', await runCli(['process', '--json', '--config', config, '--store', fresh, '--now', DEMO_NOW, join(ROOT, 'samples', '01-end-user-request.eml')]));
    expect(r.stdout).toMatch(/"outcome":"request_created"/);
    const queued = readdirSync(join(d, 'm4me.outbox')).filter((f) => f.endsWith('.eml'));
    expect(queued).toHaveLength(1);
    // A reply file the database never recorded (a killed host's) is not sent.
    writeFileSync(join(d, 'm4me.outbox', '20260302090000-acknowledgement-stray_t.eml'), 'From: a@b\r\nTo: c@d\r\nMessage-ID: <stray@t>\r\n\r\nx\r\n');
    const send = await runCli(['outbox', '--send', '--config', config, '--store', fresh]);
    expect(send.code).toBe(0);
    expect(readFileSync(sent, 'utf8').split('----\n').filter(Boolean)).toHaveLength(1);
    expect(readdirSync(join(d, 'm4me.outbox', 'sent'))).toEqual(queued);
  });

  test('import, export and compact print and store what they do on the JSON store; a running delivery sees an import', async () => {
    const c = pgc();
    const url = c.createDatabase('operator');
    const d = tempDir('m4me-pgops-');
    const file = demoStoreFile(d);
    ok('copy-store', await runCli(['copy-store', file, url, '--quiet']));
    const config = join(d, 'm4me.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    const both = async (args: string[]) => {
      const [a, b] = [await runCli([...args, '--config', config, '--store', file]), await runCli([...args, '--config', config, '--store', url])];
      expect({ args, code: b.code, stdout: b.stdout, stderr: b.stderr }).toEqual({ args, code: a.code, stdout: a.stdout, stderr: a.stderr });
      return b;
    };
    // A batch on PostgreSQL that keeps its transaction open across the import: serve.
    const served = join(d, 'served.json');
    writeFileSync(served, JSON.stringify({ ...CONFIG, store: url }));
    const { lmtpSend, serve } = await import('../serve/lmtp.js');
    const srv = await serve(['--lmtp', `unix:${join(d, 'lmtp.sock')}`, '--config', served, '--now', DEMO_NOW]);
    try {
      const nina = (id: string) => eml({ from: 'Nina New <nina.new@widget.example>', id, subject: `Printer ${id}` });
      const before = await lmtpSend(srv.where, 'nina.new@widget.example', ['widget-it@mail.4me.com'], nina('nina-1@widget.example').replace(/\n/g, '\r\n'));
      expect(before.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 /)]);

      const people = join(d, 'people.csv');
      writeFileSync(people, 'id,account,name,primary_email\n1500,widget,Nina New,nina.new@widget.example\n1001,widget,Ellen Brown-Smith,ellen.brown@widget.example\n');
      expect((await both(['import', 'people', people, '--dry-run'])).stdout).toMatch(/would add 1 and update 1/);
      expect((await both(['import', 'people', people])).stdout).toMatch(/^people: added 1, updated 1 from /);
      await both(['export', 'people']);
      await both(['export', 'people', '--format', 'csv']);
      // A bad row: the same lines, nothing written.
      writeFileSync(people, 'id,account,name\nx1,widget,Bad\n');
      expect((await both(['import', 'people', people])).code).toBe(65);

      // The server loads the imported person at its next transaction: Nina's mail is hers now.
      const after = await lmtpSend(srv.where, 'nina.new@widget.example', ['widget-it@mail.4me.com'], nina('nina-2@widget.example').replace(/\n/g, '\r\n'));
      const id = Number(/request (\d+)/.exec(after.dataReplies[0] ?? '')?.[1]);
      expect(after.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 request_created request \d+ /)]);
      const shown = ok('show', await runCli(['show', 'request', String(id), '--json', '--config', served]));
      expect(JSON.parse(shown.stdout).record.requested_by).toBe(1500);
    } finally {
      srv.child.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }

    // An import, the demo archive, compact: the same counts and the same document.
    const fresh = c.createDatabase('operator_compact');
    const file2 = demoStoreFile(tempDir());
    ok('copy-store', await runCli(['copy-store', file2, fresh, '--quiet']));
    const run2 = async (args: string[], store: string) => runCli([...args, '--config', config, '--store', store]);
    const teams = join(d, 'teams.json');
    writeFileSync(teams, JSON.stringify([{ id: 2001, name: 'Service Desk (renamed)' }, { id: 2077, account: 'widget-it', name: 'Night shift', members: [1001] }]));
    for (const store of [file2, fresh]) {
      ok('import', await run2(['import', 'teams', teams, '--quiet'], store));
      ok('process', await run2(['process', '--quiet', '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')], store));
    }
    for (const args of [['compact', '--before', '2026-03-03', '--dry-run'], ['compact', '--before', '2026-03-03']]) {
      const [a, b] = [await run2(args, file2), await run2(args, fresh)];
      expect({ code: b.code, stdout: b.stdout }).toEqual({ code: a.code, stdout: a.stdout });
      expect(b.stdout).toMatch(/ [1-9]\d* ledger entries, [1-9]\d* automatic replies, [1-9]\d* delivery log lines/);
    }
    const back = join(mkdtempSync(join(d, 'back-')), 'store.json');
    ok('copy back', await runCli(['copy-store', fresh, back, '--quiet']));
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(file2, 'utf8'));
    expect(readFileSync(back, 'utf8')).toContain('"name":"Night shift"');
  }, 120_000);

  test('quarantine: a message too large for the configuration is kept beside it, and retried into the database', async () => {
    const fresh = pgc().createDatabase('quarantine');
    ok('copy-store', await runCli(['copy-store', demoStoreFile(tempDir()), fresh, '--quiet']));
    const d = tempDir();
    const config = join(d, 'm4me.json');
    const setLimit = (maxMessageBytes: number) => writeFileSync(config, JSON.stringify({ ...CONFIG, store: fresh, maxMessageBytes }));
    setLimit(2000);
    const big = ['From: Ellen Brown <ellen.brown@widget.example>', 'To: widget-it@mail.4me.com', 'Subject: Large printer log',
      'Message-ID: <big-pg@widget.example>', 'Date: Mon, 02 Mar 2026 08:30:00 +0000', '', 'log line\n'.repeat(400)].join('\n');
    const r1 = await runCli(['process', '--config', config, '--now', DEMO_NOW], { stdin: big });
    expect([r1.code, r1.stderr]).toEqual([65, expect.stringMatching(/^5\.3\.4 m4me: message of \d+ bytes is larger than maxMessageBytes 2000\n$/)]);
    expect(readdirSync(join(d, 'm4me.quarantine')).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
    setLimit(1 << 20);
    const retry = await runCli(['quarantine', 'retry', '--all', '--config', config]);
    expect({ code: retry.code, stderr: retry.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(retry.stdout).toMatch(/: request_created request #\d+ \[create\.new_request\], removed from quarantine\n/);
    expect(readdirSync(join(d, 'm4me.quarantine')).filter((f) => f.endsWith('.eml'))).toEqual([]);
    const shown = await runCli(['list', 'requests', '--json', '--config', config]);
    expect(shown.stdout).toContain('Large printer log');
  });

  /**
   * A demo store as an older m4me left it: `undo` takes the newer migrations back (the rows
   * in m4me_schema and what they made). Returns the store, a configuration and a message.
   */
  const olderStore = async (name: string, undo: string) => {
    const c = pgc();
    const old = c.createDatabase(name);
    ok('copy-store', await runCli(['copy-store', demoStoreFile(tempDir()), old, '--quiet']));
    c.psql(undo, name);
    const d = tempDir();
    const config = join(d, 'm4me.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    return { c, old, d, config, eml: join(ROOT, 'samples', '01-end-user-request.eml') };
  };
  // Schema version 3 made these hash indexes; before, they were btree indexes.
  const BTREE_INDEXES = `
    DROP INDEX m4me_records_source; CREATE INDEX m4me_records_source ON m4me_records (type, source, source_id) WHERE source_id IS NOT NULL;
    DROP INDEX m4me_records_event; CREATE INDEX m4me_records_event ON m4me_records (event_key, created_at) WHERE type = 'request';
    DROP INDEX m4me_records_subject; CREATE INDEX m4me_records_subject ON m4me_records (subject_key) WHERE type = 'request';`;

  test('a schema one version older (btree indexes on subject, source and event keys): process says to upgrade, init upgrades it, then a long subject works', async () => {
    const { c, old, d, config, eml } = await olderStore('older', `DELETE FROM m4me_schema WHERE version = 3; ${BTREE_INDEXES}`);
    const refused = await runCli(['process', '--config', config, '--store', old, '--now', DEMO_NOW, eml]);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 75, stdout: '' });
    expect(refused.stderr).toMatch(/^4\.3\.5 m4me: store \S+: schema version 2 is older than this m4me \(3\); upgrade it with m4me init --store URL\n$/);
    const init = ok('init', await runCli(['init', '--store', old]));
    expect(init.stdout).toMatch(/upgraded schema 2 → 3/);
    const indexes = c.psql("SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE indexname IN ('m4me_records_source', 'm4me_records_event', 'm4me_records_subject') ORDER BY 1", 'older');
    expect(indexes.match(/USING hash/g)).toHaveLength(3);
    // A subject no btree entry can hold (it does not compress).
    const subject = Array.from({ length: 200 }, (_, i) => createHash('sha256').update(`s${i}`).digest('hex')).join(' ');
    const long = join(d, 'long.eml');
    writeFileSync(long, readFileSync(eml, 'utf8').replace(/^Subject: .*$/m, `Subject: ${subject}`).replace(/^Message-ID: .*$/m, 'Message-ID: <long-subject@widget.example>'));
    const r = ok('process', await runCli(['process', '--json', '--config', config, '--store', old, '--now', DEMO_NOW, long]));
    expect(r.stdout).toMatch(/"outcome":"request_created"/);
  });

  test('a schema two versions older (before the delivery log): init upgrades it to this one, then it works', async () => {
    const { old, config, eml } = await olderStore('oldest', `DROP TABLE m4me_delivery_log; DELETE FROM m4me_schema WHERE version >= 2; ${BTREE_INDEXES}`);
    const refused = await runCli(['process', '--config', config, '--store', old, '--now', DEMO_NOW, eml]);
    expect(refused.code).toBe(75);
    expect(refused.stderr).toMatch(/schema version 1 is older than this m4me \(3\)/);
    const init = ok('init', await runCli(['init', '--store', old]));
    expect(init.stdout).toMatch(/upgraded schema 1 → 3/);
    ok('process', await runCli(['process', '--json', '--config', config, '--store', old, '--now', DEMO_NOW, eml]));
    const log = ok('log', await runCli(['log', '--json', '--explain', '--config', config, '--store', old]));
    expect(log.stdout).toMatch(/"outcome":"request_created".*"trace":\[\{/);
  });

  test('an unreachable server is 75 4.3.0, a database without the schema 75 4.3.5: one line, no password', async () => {
    const c = pgc();
    const d = tempDir();
    const config = join(d, 'm4me.json');
    writeFileSync(config, JSON.stringify(CONFIG));
    const eml = join(ROOT, 'samples', '01-end-user-request.eml');
    const nowhere = `postgresql://m4me:Secret-Nowhere@/m4me?host=${encodeURIComponent(mkdtempSync('/tmp/m4me-nopg-'))}`;
    const down = await runCli(['process', '--config', config, '--store', nowhere, eml]);
    expect({ code: down.code, stdout: down.stdout }).toEqual({ code: 75, stdout: '' });
    expect(down.stderr).toMatch(/^4\.3\.0 m4me: store postgresql:\/\/m4me:\*\*\*@\/m4me\?host=\S+: cannot reach the server[^\n]*\n$/);
    const empty = await runCli(['process', '--config', config, '--store', c.urlOf('postgres'), eml]);
    expect({ code: empty.code, stdout: empty.stdout }).toEqual({ code: 75, stdout: '' });
    expect(empty.stderr).toMatch(/^4\.3\.5 m4me: store postgresql:\/\/postgres:\*\*\*@\/postgres\?host=\S+: no m4me schema in this database[^\n]*\n$/);
    expect(down.stderr + empty.stderr).not.toContain(c.password);
    expect(down.stderr).not.toContain('Secret-Nowhere');
  });
});

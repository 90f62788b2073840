/**
 * `m4me serve --lmtp` on a PostgreSQL store (issue 15: "it must work with both stores"):
 * through the built CLI and a real LMTP client, the same replies as on the JSON store for
 * the same messages and envelope, each message committed before its 250 (the row is in the
 * database when the reply arrives), a repeat a duplicate, a database that goes away answered
 * with a temporary status, nothing applied; and under load, messages committed in groups.
 */
import { afterEach, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, runCli, tempDir } from '../helpers/cli.js';
import { killLeftovers, lmtpSend, serve } from '../serve/lmtp.js';
import { describePg } from './cluster.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const ELLEN = 'ellen.brown@widget.example';

describePg('m4me serve on a PostgreSQL store', (pgc) => {
  afterEach(killLeftovers);

  test('the same replies as the JSON store, each 250 committed first, a repeat a duplicate; the password never logged', async () => {
    const c = pgc();
    const url = c.createDatabase('serve');
    const start = demoStoreFile(tempDir());
    expect((await runCli(['copy-store', start, url, '--quiet'])).code).toBe(0);
    const runServer = async (store: string) => {
      const dir = tempDir('m4me-pgserve-');
      const config = join(dir, 'm4merc.json');
      writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'] }));
      const socket = join(dir, 'lmtp.sock');
      return { config, srv: await serve(['--lmtp', `unix:${socket}`, '--config', config, '--now', DEMO_NOW]) };
    };
    const pg = await runServer(url);
    const json = await runServer(demoStoreFile(tempDir()));
    const messages = [
      crlf(eml({ id: 'pgserve1@widget.example', subject: 'Printer on floor 3 is broken' })),
      crlf(eml({ id: 'pgserve2@widget.example', subject: 'VPN drops every hour' })),
    ];
    const rcpts = ['widget-it@mail.4me.com', 'nobody@mail.4me.com'];
    const replies = { pg: [] as string[][], json: [] as string[][] };
    for (const m of [...messages, messages[0]!]) {
      const a = await lmtpSend(pg.srv.where, ELLEN, rcpts, m);
      expect(a.error).toBeNull();
      replies.pg.push(a.dataReplies);
      // Committed before the reply: the database has it now.
      const id = /Message-ID: <([^>]+)>/.exec(m)![1]!;
      const listed = await runCli(['list', 'requests', '--json', '--config', pg.config]);
      expect(listed.code).toBe(0);
      expect(listed.stdout.includes(id) || a.dataReplies[0]!.includes('duplicate')).toBe(true);
      replies.json.push((await lmtpSend(json.srv.where, ELLEN, rcpts, m)).dataReplies);
    }
    expect(replies.pg).toEqual(replies.json);
    expect(replies.pg[0]).toEqual(['250 2.0.0 request_created request 100042 (create.new_request)', '250 2.0.0 rejected no record (reject.unknown_address)']);
    expect(replies.pg[2]![0]).toMatch(/^250 2\.0\.0 duplicate /);
    expect(pg.srv.stderr()).toMatch(/listening on unix:\S+ \(mode 0660\), store postgresql:\/\/postgres:\*\*\*@/);
    expect(pg.srv.stderr()).not.toContain(c.password);

    // The database gone (its connections refused): a temporary status, then it works again.
    c.psql(`ALTER DATABASE serve WITH ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'serve' AND pid <> pg_backend_pid();`);
    const down = await lmtpSend(pg.srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'pgserve3@widget.example', subject: 'While down' })));
    expect(down.dataReplies).toEqual([expect.stringMatching(/^45[12] 4\.3\.\d /)]);
    expect(down.dataReplies[0]).not.toContain(c.password);
    c.psql('ALTER DATABASE serve WITH ALLOW_CONNECTIONS true;');
    const again = await lmtpSend(pg.srv.where, ELLEN, ['widget-it@mail.4me.com'], crlf(eml({ id: 'pgserve3@widget.example', subject: 'While down' })));
    expect(again.dataReplies).toEqual([expect.stringMatching(/^250 2\.0\.0 request_created request \d+ /)]);

    for (const s of [pg.srv, json.srv]) {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  }, 120_000);

  test('8 connections at once: messages committed in groups (one transaction for several), every 250 in the database once', async () => {
    const c = pgc();
    const url = c.createDatabase('serve_groups');
    expect((await runCli(['copy-store', demoStoreFile(tempDir()), url, '--quiet'])).code).toBe(0);
    const dir = tempDir('m4me-pgserve-');
    const config = join(dir, 'm4merc.json');
    writeFileSync(config, JSON.stringify({ store: url, mailDomain: ['mail.4me.com'] }));
    const srv = await serve(['--lmtp', `unix:${join(dir, 'lmtp.sock')}`, '--config', config, '--now', DEMO_NOW]);
    const commits = () => Number(c.psql(`SELECT xact_commit FROM pg_stat_database WHERE datname = 'serve_groups'`).trim());
    const before = commits();
    const CONNECTIONS = 8;
    const EACH = 10;
    const replies = await Promise.all(Array.from({ length: CONNECTIONS }, async (_, n) => {
      const got: string[] = [];
      for (let i = 0; i < EACH; i++) {
        const m = crlf(eml({ id: `group-${n}-${i}@widget.example`, subject: `Group ${n} message ${i}` }));
        got.push(...(await lmtpSend(srv.where, ELLEN, ['widget-it@mail.4me.com'], m)).dataReplies);
      }
      return got;
    }));
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toBe(0);
    const all = replies.flat();
    expect(all).toHaveLength(CONNECTIONS * EACH);
    expect(all.every((r) => /^250 2\.0\.0 request_created request \d+ /.test(r))).toBe(true);
    const rows = c.psql(`SELECT count(*), count(DISTINCT message_id) FROM m4me_records WHERE type = 'request' AND message_id LIKE 'group-%'`, 'serve_groups').trim();
    expect(rows).toBe(`${CONNECTIONS * EACH}|${CONNECTIONS * EACH}`);
    // Groups of more than one message, and fewer transactions than messages.
    const sizes = [...srv.stderr().matchAll(/ group=(\d+)/g)].map((m) => Number(m[1]));
    expect(sizes).toHaveLength(CONNECTIONS * EACH);
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(commits() - before).toBeLessThan(CONNECTIONS * EACH);
  }, 120_000);
});

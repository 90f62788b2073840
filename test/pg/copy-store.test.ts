/**
 * `m4me init --store URL` and `m4me copy-store` through the CLI, against a real server:
 * a file store copied into PostgreSQL and back is the same file, byte for byte, its
 * attachments included; a non-empty DST needs --force; check-config names an unreachable
 * server or a refused login (exit 78) without printing the password.
 */
import { beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DEMO_NOW, demoStoreFile, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { snapshot } from '../reliability/helpers.js';
import { describePg } from './cluster.js';

const ok = (r: { code: number; stderr: string; stdout: string }) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

describePg('copy-store and init with a PostgreSQL store', (pgc) => {
  let processed = '';
  let files: Record<string, string> = {};
  beforeAll(async () => {
    // `npm run demo` in a temp folder: the demo store after samples/demo.mbox, with attachments.
    const dir = tempDir('m4me-pg-demo-');
    processed = join(dir, 'store.json');
    const config = join(dir, 'm4merc.json');
    const demo = JSON.parse(readFileSync(join(ROOT, 'samples', 'demo.m4merc.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(config, JSON.stringify({ ...demo, store: './store.json' }));
    ok(await runCli(['init', '--demo', '--config', config, '--quiet']));
    ok(await runCli(['process', '--config', config, '--now', DEMO_NOW, '--quiet', join(ROOT, 'samples', 'demo.mbox')]));
    files = snapshot(`${processed}.files`);
  });

  test('the processed demo store (with attachments): file → PostgreSQL → file is byte for byte the same', async () => {
    expect(Object.keys(files).length).toBeGreaterThan(0);
    const url = pgc().createDatabase('processed');
    const r = ok(await runCli(['copy-store', processed, url]));
    expect(r.stdout).toMatch(/^copied .*store\.json to postgresql:\/\/postgres:\*\*\*@\/processed\?host=.*: \d+ requests, \d+ notes, \d+ ledger entries, [1-9]\d* attachments/);
    expect(r.stdout + r.stderr).not.toContain(pgc().password);
    const back = join(mkdtempSync(join(tempDir(), 'back-')), 'store.json');
    ok(await runCli(['copy-store', url, back]));
    expect(readFileSync(back).equals(readFileSync(processed))).toBe(true);
    expect(snapshot(`${back}.files`)).toEqual(files);
  });

  test('the demo store as init writes it: file → PostgreSQL → file is the same, and so is init --demo --store URL', async () => {
    const dir = tempDir();
    const file = join(dir, 'init.json');
    ok(await runCli(['init', '--demo', '--store', file, '--quiet']));
    const url = pgc().createDatabase('initdemo');
    ok(await runCli(['copy-store', file, url, '--quiet']));
    ok(await runCli(['copy-store', url, join(dir, 'back.json'), '--quiet']));
    expect(readFileSync(join(dir, 'back.json')).equals(readFileSync(file))).toBe(true);

    const fresh = pgc().createDatabase('freshdemo');
    const init = ok(await runCli(['init', '--demo', '--store', fresh]));
    expect(init.stdout).toMatch(/created schema version 3; demo store/);
    expect(init.stdout).not.toContain(pgc().password);
    ok(await runCli(['copy-store', fresh, join(dir, 'fresh.json'), '--quiet']));
    expect(readFileSync(join(dir, 'fresh.json')).equals(readFileSync(file))).toBe(true);
    // init again: the schema is up to date, the content left alone; --demo on content needs --force.
    expect(ok(await runCli(['init', '--store', fresh])).stdout).toMatch(/schema version 3 is up to date$/m);
    const again = await runCli(['init', '--demo', '--store', fresh]);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(/^5\.5\.4 m4me: .*already has content \(use --force/);
  });

  test('file → file is the same file; a DST with content needs --force', async () => {
    const dir = tempDir();
    const copy = join(dir, 'copy.json');
    ok(await runCli(['copy-store', processed, copy, '--quiet']));
    expect(readFileSync(copy).equals(readFileSync(processed))).toBe(true);
    expect(snapshot(`${copy}.files`)).toEqual(files);

    const refused = await runCli(['copy-store', processed, copy]);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/already exists \(use --force/);
    const url = pgc().createDatabase('force');
    ok(await runCli(['copy-store', processed, url, '--quiet']));
    const notEmpty = await runCli(['copy-store', join(dir, 'copy.json'), url]);
    expect(notEmpty.code).toBe(64);
    expect(notEmpty.stderr).toMatch(/^5\.5\.4 m4me: postgresql:\/\/postgres:\*\*\*@.* is not empty \(use --force/);
    expect(notEmpty.stderr).not.toContain(pgc().password);
    // --force replaces the content: the small init store comes back as itself.
    const small = join(dir, 'small.json');
    ok(await runCli(['init', '--store', small, '--quiet']));
    ok(await runCli(['copy-store', small, url, '--force', '--quiet']));
    ok(await runCli(['copy-store', url, join(dir, 'small-back.json'), '--quiet']));
    expect(readFileSync(join(dir, 'small-back.json'), 'utf8')).toBe(readFileSync(small, 'utf8'));
  });

  test('a missing source store is 75 4.3.5; an unreachable source 75 4.3.0', async () => {
    const dir = tempDir();
    const missing = await runCli(['copy-store', join(dir, 'nope.json'), join(dir, 'x.json')]);
    expect(missing.code).toBe(75);
    expect(missing.stderr).toMatch(/^4\.3\.5 m4me: store .*nope\.json: does not exist/);
    const nowhere = `postgresql://m4me:Secret-Nowhere@/m4me?host=${encodeURIComponent(mkdtempSync('/tmp/m4me-nopg-'))}`;
    const down = await runCli(['copy-store', nowhere, join(dir, 'x.json')]);
    expect(down.code).toBe(75);
    expect(down.stderr).toMatch(/^4\.3\.0 m4me: store postgresql:\/\/m4me:\*\*\*@\/m4me\?host=.*cannot reach the server/);
    expect(down.stderr).not.toContain('Secret-Nowhere');
  });

  test('a source with two rows of one ID is 75 4.3.5 (not a retry), nothing copied', async () => {
    const dir = tempDir();
    const twice = demoStoreFile(dir, (s) => { s.people.push({ ...s.people[0]! }); });
    const url = pgc().createDatabase('twice');
    const r = await runCli(['copy-store', twice, url]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/^4\.3\.5 m4me: store .*store\.json holds two rows with one key \(m4me_people: Key \(id\)=\(\d+\) already exists\.\); nothing was copied\n$/);
    expect(pgc().psql('SELECT count(*) FROM m4me_people', 'twice').trim()).toBe('0');
  });

  test('check-config with a PostgreSQL store: fine, unreachable, wrong password, no schema', async () => {
    const c = pgc();
    const dir = tempDir();
    const good = c.createDatabase('checked');
    ok(await runCli(['init', '--demo', '--store', good, '--quiet']));
    const cases: [string, number, RegExp][] = [
      [good, 0, /✓ store postgresql:\/\/postgres:\*\*\*@\/checked\?host=\S+ \(schema version 3, \d+ accounts\)/],
      [`postgresql://m4me:Secret-Nowhere@/m4me?host=${encodeURIComponent(mkdtempSync('/tmp/m4me-nopg-'))}`, 78, /✗ store postgresql:\/\/m4me:\*\*\*@\/m4me\?host=\S+: cannot reach the server/],
      [c.urlOf('checked', 'Wrong-Secret-pw'), 78, /✗ store postgresql:\/\/postgres:\*\*\*@\/checked\?host=\S+: login refused \(wrong password\)/],
      [c.urlOf('postgres'), 78, /✗ store postgresql:\/\/postgres:\*\*\*@\/postgres\?host=\S+: no m4me schema in this database \(create it with m4me init/],
    ];
    for (const [url, code, line] of cases) {
      const config = join(dir, 'm4merc.json');
      writeFileSync(config, JSON.stringify({ store: url, outbox: join(dir, 'outbox'), quarantine: join(dir, 'quarantine') }));
      const r = await runCli(['check-config', '--config', config]);
      expect({ code: r.code, line: line.test(r.stdout) ? true : r.stdout }).toEqual({ code, line: true });
      expect(r.stdout + r.stderr).not.toMatch(/Secret|Wrong-Secret-pw/);
      expect(r.stdout + r.stderr).not.toContain(c.password);
      if (code) expect(r.stderr).toMatch(/^4\.3\.5 m4me: 1 problem found$/m);
    }
  });
});

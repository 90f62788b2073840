/**
 * `m4me import` and `m4me export` (CONTRACT §9) through the real CLI: the sample site fills an
 * empty store that then takes mail; bad rows are named by file, line and column and nothing is
 * written; rows are matched by id; CSV and JSON round-trip.
 */
import { expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eml, jsonLines, readStore, ROOT, runCli, storeBytes, tempDir } from '../helpers/cli.js';
import { absentTestStore, describeStores, emptyTestStore, importInto } from '../helpers/stores.js';

const SITE = join(ROOT, 'samples', 'site');
const ORDER = ['accounts', 'people', 'teams', 'service_instances', 'first_line_support_agreements'];

/** A store made by `m4me init` and filled from samples/site. */
async function siteStore(): Promise<{ dir: string; store: string }> {
  const dir = tempDir();
  const store = await emptyTestStore(dir);
  for (const t of ORDER) {
    const r = await importInto(store, t, join(SITE, `${t}.csv`));
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(new RegExp(`^${t}: added \\d+, updated 0 from `));
  }
  return { dir, store };
}

describeStores('a site imported into an empty store', () => {
  test('the sample site imports into an empty store, and mail to it becomes a request of its service desk', async () => {
    const { store } = await siteStore();
    const data = readStore(store);
    expect(data.people.map((p) => p.id)).toEqual([1001, 1002, 1003]);
    expect(data.people[1]!.roles).toEqual({ 'acme-it': ['specialist', 'service_desk_analyst'] });
    expect(data.accounts[0]!.email_policy.match_id_in_subject).toBe(true);
    expect(data.teams[1]!.members).toEqual([1002, 1003]);
    const mail = eml({ from: 'Alice Meyer <alice.meyer@acme.example>', to: 'acme-it@mail.4me.com', subject: 'Printer broken' });
    const r = await runCli(['process', '--json', '--store', store, '--recipient', 'acme-it@mail.4me.com'], { stdin: mail });
    expect(r.code).toBe(0);
    const [res] = jsonLines(r.stdout);
    expect([res!.outcome, res!.request?.team, res!.request?.requested_by]).toEqual(['request_created', 2001, 1001]);
  });
});

describeStores('m4me import / export', () => {
  test('bad rows: each problem names file, line and column; exit 65; the store is not touched', async () => {
    const { dir, store } = await siteStore();
    const before = storeBytes(store);
    const file = join(dir, 'people.csv');
    writeFileSync(file, [
      'id,account,name,primary_email,roles.nowhere',
      '1010,acme-it,Ok Person,ok@acme.example,',
      'x1,acme-it,Bad Id,bad-id@acme.example,',
      '1011,acme-it,Bad Mail,not-an-address,',
      '1012,elsewhere,Wrong Account,wrong@acme.example,',
      '1013,acme-it,Role Elsewhere,role@acme.example,specialist',
      '1014,acme-it,Twin,ALICE.MEYER@acme.example,',
      '1010,acme-it,Again,again@acme.example,',
    ].join('\n'));
    const r = await runCli(['import', 'people', file, '--store', store]);
    expect(r.code).toBe(65);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^5\.6\.0 m4me: import people from .*people\.csv: \d+ problems; nothing was written$/);
    expect(r.stderr).toContain(`${file}: line 3: column id: expects a whole number, not "x1"`);
    // Reference problems are checked once every row is of the right shape: fix that row and see the rest.
    writeFileSync(file, readFileSync(file, 'utf8').replace('x1,', '1099,'));
    const r2 = await runCli(['import', 'people', file, '--store', store]);
    expect(r2.code).toBe(65);
    expect(r2.stderr).toContain(`${file}: line 4: column primary_email: "not-an-address" is not an email address`);
    expect(r2.stderr).toContain(`${file}: line 5: column account: "elsewhere" is not the ID of an account`);
    expect(r2.stderr).toContain(`${file}: line 6: column roles.nowhere: "nowhere" is not an account`);
    expect(r2.stderr).toMatch(/line 7: column primary_email: person 1001 of acme-it has the same primary email/);
    expect(r2.stderr).toContain(`${file}: line 8: column id: ID 1010 is also in row 1 of this file`);
    expect(r2.stderr).not.toMatch(/\n\s+at /);
    expect(storeBytes(store)).toEqual(before);
  });

  test('a team member who is not a person, an agreement whose team does not exist: refused', async () => {
    const { dir, store } = await siteStore();
    const teams = join(dir, 'teams.jsonl');
    writeFileSync(teams, '{"id":2003,"account":"acme-it","name":"Ghosts","members":[1001,4242]}\n');
    const r = await runCli(['import', 'teams', teams, '--store', store]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`${teams}: line 1: column members: 4242 is not the ID of a person`);
    const agreements = join(dir, 'a.json');
    writeFileSync(agreements, JSON.stringify([{ id: 6002, account: 'acme-it', service_desk_team: 2999, covers: ['acme-it'] }]));
    const r2 = await runCli(['import', 'first_line_support_agreements', agreements, '--store', store]);
    expect(r2.code).toBe(65);
    expect(r2.stderr).toContain(`${agreements}: row 1: column service_desk_team: 2999 is not the ID of a team`);
  });

  test('rows are matched by id: a file of some columns updates only those fields', async () => {
    const { dir, store } = await siteStore();
    const file = join(dir, 'rename.csv');
    writeFileSync(file, 'id,name,disabled\n1001,Alice Meyer-Ross,true\n');
    const r = await runCli(['import', 'people', file, '--store', store]);
    expect([r.code, r.stdout]).toEqual([0, `people: added 0, updated 1 from ${file}\n`]);
    const alice = readStore(store).people.find((p) => p.id === 1001)!;
    expect(alice).toMatchObject({ name: 'Alice Meyer-Ross', disabled: true, primary_email: 'alice.meyer@acme.example', emails: ['alice@acme.example'] });
  });

  test('--dry-run checks every row and changes nothing', async () => {
    const { dir, store } = await siteStore();
    const before = storeBytes(store);
    const file = join(dir, 'p.csv');
    writeFileSync(file, 'id,account,name,primary_email\n1020,acme-it,New Person,new@acme.example\n');
    const r = await runCli(['import', 'people', file, '--dry-run', '--store', store]);
    expect([r.code, r.stdout]).toEqual([0, `people: would add 1 and update 0 from ${file} (dry run: nothing was changed)\n`]);
    expect(storeBytes(store)).toEqual(before);
  });

  test('export csv and json, imported again: the same collection', async () => {
    const { dir, store } = await siteStore();
    // A name a spreadsheet would run as a formula goes out behind a quote and comes back as it was.
    const formula = join(dir, 'f.csv');
    writeFileSync(formula, 'id,name\n1003,"=HYPERLINK(""http://x.example"",""Zabbix"")"\n');
    expect((await runCli(['import', 'people', formula, '--store', store])).code).toBe(0);
    const people = readStore(store).people;
    for (const format of ['csv', 'json']) {
      const out = await runCli(['export', 'people', '--format', format, '--store', store]);
      expect(out.code).toBe(0);
      if (format === 'csv') {
        expect(out.stdout.split('\n')[0]).toBe('id,account,name,primary_email,emails,disabled,roles.acme-it');
        expect(out.stdout).toContain(`'=HYPERLINK`);
      }
      const file = join(dir, `people.${format}`);
      writeFileSync(file, out.stdout);
      const r = await runCli(['import', 'people', file, '--store', store]);
      expect([r.code, r.stdout]).toEqual([0, `people: added 0, updated 3 from ${file}\n`]);
      expect(readStore(store).people).toEqual(people);
    }
  });

  test('hostile files: a __proto__ column, broken CSV quoting, a BOM, an unknown collection', async () => {
    const { dir, store } = await siteStore();
    const before = storeBytes(store);
    const proto = join(dir, 'proto.csv');
    writeFileSync(proto, 'id,__proto__.polluted,roles.constructor\n1001,yes,specialist\n');
    const r = await runCli(['import', 'people', proto, '--store', store]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('column "__proto__.polluted": not a field name');
    expect(r.stderr).toContain('column "roles.constructor": not a field name');
    const broken = join(dir, 'broken.csv');
    writeFileSync(broken, 'id,name\n1001,"unterminated\n');
    const b = await runCli(['import', 'people', broken, '--store', store]);
    expect(b.code).toBe(65);
    expect(b.stderr.trim().split('\n')).toHaveLength(2);
    expect(storeBytes(store)).toEqual(before);
    const bom = join(dir, 'bom.csv');
    writeFileSync(bom, '\uFEFFid,name\n1001,"Alice\nMeyer"\n');
    expect((await runCli(['import', 'people', bom, '--store', store])).code).toBe(0);
    expect(readStore(store).people[0]!.name).toBe('Alice\nMeyer');
    const u = await runCli(['import', 'tickets', bom, '--store', store]);
    expect(u.code).toBe(64);
    expect(u.stderr).toMatch(/^5\.5\.4 m4me: unknown collection "tickets"/);
  });

  test('a store that is not there: 75 with one 4.3.5 line', async () => {
    const dir = tempDir();
    const file = join(dir, 'a.csv');
    writeFileSync(file, 'id,name\nx,X\n');
    // (A file not there, or a database without the m4me schema.)
    const r = await runCli(['import', 'accounts', file, '--store', await absentTestStore(dir, 'missing.json')]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/^4\.3\.5 m4me: (store .* \(create it with: m4me init|.*no m4me schema in this database \(create it with m4me init)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

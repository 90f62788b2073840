/**
 * Data is data: text from mail (parameter names, custom field IDs, header names, addresses,
 * account qualifiers) and from the store (keys of `roles`) is never looked up on a plain
 * object's prototype. A Specialist's `#constructor` is an unknown parameter with a warning,
 * not an internal error retried forever; a store whose reference data has the wrong types is
 * refused at delivery (75, one 4.3.5 line), not only by check-config.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreData } from '../../src/store/schema.js';
import { DEMO_NOW, demoStoreFile, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';

const NAGIOS = 'Nagios <nagios@monitoring.widget.example>';
const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__defineGetter__'];

async function deliver(message: string, opts: { store?: string; args?: string[] } = {}) {
  const store = opts.store ?? demoStoreFile();
  const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, ...(opts.args ?? [])], { stdin: message });
  return { run, store, result: run.code === 0 ? jsonLines(run.stdout)[0]! : undefined };
}

describe('prototype keys from a Specialist', () => {
  test.each(KEYS)('#%s is an unknown parameter with a warning', async (key) => {
    const { run, result } = await deliver(eml({ from: NAGIOS, subject: `Alert ${key}` }, `#${key}\n#${key}: x\n#impact: high\n\nAlert text.\n`));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(result!.outcome).toBe('request_created');
    expect(result!.warnings.filter((w) => w.includes(`unknown parameter #${key.toLowerCase()}`))).toHaveLength(2);
    expect(result!.request).toMatchObject({ impact: 'high' });
  });

  test.each(KEYS)('#custom_field_%s is stored as a custom field of that ID', async (key) => {
    const { run, result, store } = await deliver(eml({ from: NAGIOS, subject: `Custom ${key}` }, `#custom_field_${key}: v1\n#custom_field_cost: v2\n\nAlert.\n`));
    expect(run.code).toBe(0);
    const fields = (result!.request as { custom_fields: Record<string, string> }).custom_fields;
    expect(Object.hasOwn(fields, key)).toBe(true);
    expect(Object.entries(fields)).toEqual([[key, 'v1'], ['cost', 'v2']]);
    const stored = readStore(store).requests.find((r) => r.id === result!.record!.id)!;
    expect(Object.entries(stored.custom_fields)).toEqual([[key, 'v1'], ['cost', 'v2']]);
  });

  test.each(['constructor', '__proto__', 'toString'])('#team: Service Desk @%s is refused, not a crash', async (key) => {
    const { run, result } = await deliver(eml({ from: NAGIOS, subject: `Qualified ${key}` }, `#team: Service Desk @${key}\n#support_domain: ${key}\n\nAlert.\n`));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(result!.outcome).toBe('request_created');
    expect(result!.warnings.length).toBeGreaterThanOrEqual(2);
  });
});

describe('prototype keys in headers and addresses', () => {
  test.each(KEYS)('Delivered-To: %s without an envelope recipient is an unknown address', async (key) => {
    const msg = eml({ to: 'someone@widget.example', headers: [`Delivered-To: ${key}`] });
    const { run, result } = await deliver(msg);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(result!.outcome).toBe('rejected');
    expect(result!.rule).toBe('reject.unknown_address');
  });

  test.each(KEYS)('a header field named %s is an ordinary header field', async (key) => {
    const { run, result } = await deliver(eml({ headers: [`${key}: x`, `${key}: y`] }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(result!.outcome).toBe('request_created');
  });
});

describe('prototype keys in the store', () => {
  test.each(['constructor', '__proto__', 'toString'])('a notification whose record type is %s: a reply to it is no match, not a crash', async (type) => {
    const store = demoStoreFile(tempDir(), (s) => { (s.notifications[0]!.record as unknown as Record<string, unknown>).type = type; });
    const { run, result } = await deliver(eml({ subject: 'Re: your request', headers: ['In-Reply-To: <notify-100001-1@mail.4me.com>'] }), { store });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(result!.outcome).toBe('request_created');
  });
});

describe('a store whose reference data has the wrong types is refused at delivery', () => {
  const cases: [string, (s: StoreData) => void, RegExp][] = [
    ['from_auth_secrets as a string', (s) => { (s.accounts[0]!.email_policy as unknown as Record<string, unknown>).from_auth_secrets = 'secret'; }, /accounts.*from_auth_secrets/],
    ['a person\'s primary_email as a number', (s) => { (s.people[0] as unknown as Record<string, unknown>).primary_email = 42; }, /people.*primary_email/],
    ['roles as a list', (s) => { (s.people[1] as unknown as Record<string, unknown>).roles = ['specialist']; }, /people.*roles/],
    ['a role list as a string', (s) => { (s.people[1]!.roles as unknown as Record<string, unknown>)['widget-it'] = 'specialist'; }, /people.*roles/],
    ['allow_new_requests as a string', (s) => { (s.accounts[0]!.email_policy as unknown as Record<string, unknown>).allow_new_requests = 'no'; }, /accounts.*allow_new_requests/],
    ['a team\'s members as a number', (s) => { (s.teams[0] as unknown as Record<string, unknown>).members = 1002; }, /teams.*members/],
    ['a CI label as a number', (s) => { (s.configuration_items[0] as unknown as Record<string, unknown>).label = 5; }, /configuration_items.*label/],
  ];
  test.each(cases)('%s: 75 with one 4.3.5 line, store untouched', async (_name, mutate, where) => {
    const store = demoStoreFile(tempDir(), mutate);
    const before = readFileSync(store);
    const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: eml({ from: NAGIOS }) });
    expect(run.code).toBe(75);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^4\.3\.5 m4me: store .* is not an m4me store: /);
    expect(lines[0]).toMatch(where);
    expect(readFileSync(store).equals(before)).toBe(true);
  });

  test('check-config reports the same store problem (exit 78)', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir, cases[0]![1]);
    const run = await runCli(['check-config', '--store', store]);
    expect(run.code).toBe(78);
    expect(run.stdout + run.stderr).toMatch(/from_auth_secrets/);
  });
});

describe('the delivery’s store check and check-config’s ajv agree', () => {
  test('on the reference collections of 12 broken stores, path for path', async () => {
    const { storeSchemaProblems } = await import('../../src/cli/store-schema.js');
    const { collectionProblems } = await import('../../src/store/validate.js');
    const { RESIDENT } = await import('../../src/store/indexes.js');
    const { demoStore } = await import('../../src/store/demo.js');
    type Loose = Record<string, unknown>;
    const mutations: ((s: StoreData) => void)[] = [
      () => undefined,
      (s) => { (s.accounts[0]!.email_policy as unknown as Loose).from_auth_secrets = 'x'; },
      (s) => { (s.accounts[0]!.email_policy as unknown as Loose).from_auth_secrets = ['ok', 7]; },
      (s) => { (s.accounts[1] as unknown as Loose).directory_account = 5; },
      (s) => { delete (s.accounts[0] as unknown as Loose).email_policy; },
      (s) => { (s.people[0] as unknown as Loose).primary_email = 42; (s.people[2] as unknown as Loose).emails = 'a@b'; },
      (s) => { (s.people[1] as unknown as Loose).roles = { 'widget-it': 'specialist', other: ['x', null] }; },
      (s) => { (s.teams[0] as unknown as Loose).members = ['1002']; },
      (s) => { (s.service_instances[0] as unknown as Loose).first_line_team = '2001'; },
      (s) => { (s.configuration_items[0] as unknown as Loose).service_instances = 4001; },
      (s) => { (s.first_line_support_agreements[0] as unknown as Loose).covers = 'widget'; },
      (s) => { (s.request_templates[0] as unknown as Loose).team = 1.5; (s.accounts[0] as unknown as Loose).provide_feedback_days = -1; },
    ];
    const resident = (line: string) => [...RESIDENT].some((c) => line.startsWith(`/${c}/`) || line.startsWith(`/${c}:`));
    for (const [i, mutate] of mutations.entries()) {
      const s = demoStore();
      mutate(s);
      const ajv = (await storeSchemaProblems(s, 500)).filter(resident).map((l) => l.split(':')[0]).sort();
      const ours = [...RESIDENT].flatMap((c) => collectionProblems(c, (s as unknown as Record<string, unknown[]>)[c] ?? [], 500)).map((l) => l.split(':')[0]).sort();
      expect(ours).toEqual(ajv);
      expect(ours.length > 0).toBe(i > 0);
    }
  });
});

import { expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchemaProblems } from '../../src/cli/config-schema.js';
import { configProblems } from '../../src/cli/config.js';
import { demoStoreFile, runCli, tempDir } from '../helpers/cli.js';
import { describeJsonOnly } from '../helpers/stores.js';

describeJsonOnly('the configuration\'s own checks and the store file\'s schema; check-config with a URL: test/pg/copy-store.test.ts', 'check-config', () => {
  test('a good configuration and store: exit 0', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    writeFileSync(join(dir, '.m4merc.json'), JSON.stringify({ store: 'store.json', mailDomain: ['mail.4me.com'] }));
    const r = await runCli(['check-config'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`✓ store ${store}`);
  });

  test('every configuration problem with its key and what was expected: exit 78', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.m4merc.json'), JSON.stringify({ mailDomain: 42, lockTimeoutMs: -1, colour: 'red' }));
    const r = await runCli(['check-config'], { cwd: dir });
    expect(r.code).toBe(78);
    expect(r.stdout).toMatch(/\/mailDomain: must be a string or a list of strings \(the inbound domain/);
    expect(r.stdout).toMatch(/\/lockTimeoutMs: must be >= 0 \(ms to wait for the store lock/);
    expect(r.stdout).toMatch(/\/colour: unknown key \(known: store, mailDomain/);
    expect(r.stderr).toMatch(/^4\.3\.5 m4me: /);
  });

  test('domains and alias addresses are checked; a broken JSON file names its reason; sendmail is looked for', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.m4merc.json'), JSON.stringify({ mailDomain: ['mail.4me.com', 'not a domain!'], aliases: { 'help desk': 'widget-it@mail.4me.com' }, sendmail: '/nonexistent/sendmail -t -i' }));
    const r = await runCli(['check-config'], { cwd: dir });
    expect(r.code).toBe(78);
    expect(r.stdout).toMatch(/\/mailDomain\/1: "not a domain!" is not a domain name/);
    expect(r.stdout).toMatch(/aliases: "help desk" is not an email address/);
    writeFileSync(join(dir, '.m4merc.json'), '{ "store": "s.json", }');
    const broken = await runCli(['check-config'], { cwd: dir });
    expect(broken.code).toBe(78);
    expect(broken.stdout).toMatch(/JSON Error in .*\.m4merc\.json: .+/);
    const store = demoStoreFile(dir);
    writeFileSync(join(dir, '.m4merc.json'), JSON.stringify({ store: 'store.json', sendmail: '/nonexistent/sendmail -t -i' }));
    const warned = await runCli(['check-config'], { cwd: dir });
    expect(warned.stdout).toContain(`✓ store ${store}`);
    expect(warned.stdout).toMatch(/! sendmail: "\/nonexistent\/sendmail" is not an executable program/);
    expect(warned.code).toBe(0);
  });

  test('store problems with their JSON path (schema and references): exit 78', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir, (s) => {
      s.requests[0]!.created_at = 'yesterday';
      (s.requests[1] as unknown as Record<string, unknown>).team = 'Network';
      s.notes[0]!.record = { type: 'ticket' as never, id: 1 };
      s.people.push({ ...s.people[0]! });
      s.problems[0]!.id = 100001;
    });
    const r = await runCli(['check-config', '--store', store]);
    expect(r.code).toBe(78);
    expect(r.stdout).toMatch(/\/requests\/0\/created_at: must be an ISO 8601 time with offset/);
    expect(r.stdout).toMatch(/\/requests\/1\/team: must be integer,null/);
    expect(r.stdout).toMatch(/\/notes\/0\/record\/type: must be equal to one of the allowed values/);
    expect(r.stdout).toMatch(/\/people\/10: person ID 1001 is used twice/);
    expect(r.stdout).toMatch(/\/problems\/0: ID 100001 is also used by requests/);
  });

  test('the JSON Schema (check-config, ajv) and the delivery’s own check agree on every key', async () => {
    const configs: unknown[] = [
      {}, { store: 's.json', mailDomain: 'mail.4me.com' }, { mailDomain: ['a.example', 'b.example'] },
      { mailDomain: 42 }, { mailDomain: [] }, { mailDomain: ['ok.example', 'not ok'] }, { mailDomain: '' },
      { aliases: { 'help@corp.example': 'x@mail.4me.com' } }, { aliases: { 'no at': 'x@mail.4me.com' } }, { aliases: { 'a@b.example': 7 } },
      { lockTimeoutMs: -1 }, { lockTimeoutMs: 1.5 }, { maxMessageBytes: 0 }, { maxAttachments: 0 }, { acknowledgements: 'yes' },
      { trustedAuthservIds: 'mx' }, { trustedAuthservIds: ['mx.corp.example'] }, { sendmail: '' }, { colour: 'red' }, { store: 3, outbox: [] },
      { parameterTrust: 'dmarc' }, { parameterTrust: 'always' }, { parameterTrust: true }, { constructor: 5 }, { toString: 'x' },
    ];
    const keyOf = (line: string) => line.replace(/^\//, '').split(/[/:]/)[0];
    for (const raw of configs) {
      const fast = [...new Set(configProblems(raw).map(keyOf))].sort();
      const schema = [...new Set((await configSchemaProblems(raw)).map(keyOf))].sort();
      expect([raw, schema]).toEqual([raw, fast]);
    }
  });
});

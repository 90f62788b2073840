/**
 * The README's "First real installation", step by step through the real CLI: the example
 * configuration copied to the system folder (M4ME_SYSTEM_CONFIG_DIR stands for /etc/m4me)
 * with its store and domain set, `init` found without --config, the sample site imported
 * from samples/site (each type dry-run first, in the README's order), `check-config` clean,
 * and then the first real delivery: a known person's mail becomes a request (issue 13: it
 * used to be rejected while check-config showed all ✓), a stranger's is rejected.
 */
import { expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeJsonOnly } from '../helpers/stores.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README section's shell block. */
function installationBlock(): string {
  const section = README.split('\n## First real installation\n')[1]?.split('\n## ')[0];
  const block = section && /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md lacks the shell block of "First real installation"');
  return block;
}

describeJsonOnly('the README\'s installation of a store file, its 0600 mode (a PostgreSQL store is set up by the README\'s PostgreSQL section: test/pg/process.test.ts)', 'the README\'s first real installation', () => {
  test('configuration in the system folder, init, import of samples/site, check-config, a first delivery', async () => {
    const block = installationBlock();
    // The steps this test follows are the README's.
    expect(block).toMatch(/cp \.m4merc\.example \/etc\/m4me\/m4merc\.yaml/);
    expect(block).toMatch(/m4me init\b/);
    expect(block).toMatch(/m4me check-config\b/);
    const loop = /for t in ([a-z_ ]+); do\n\s*sudo -u m4me m4me import \$t samples\/site\/\$t\.csv --dry-run && sudo -u m4me m4me import \$t samples\/site\/\$t\.csv\n\s*done/.exec(block);
    if (!loop) throw new Error(`README.md's import loop changed:\n${block}`);
    const types = loop[1]!.trim().split(/\s+/);
    expect(types[0]).toBe('accounts');

    const dir = tempDir();
    const etc = join(dir, 'etc', 'm4me');
    const lib = join(dir, 'var', 'lib', 'm4me');
    mkdirSync(etc, { recursive: true });
    mkdirSync(lib, { recursive: true });
    const store = join(lib, 'store.json');
    // "then set store: /var/lib/m4me/store.json, mailDomain"
    const example = readFileSync(join(ROOT, '.m4merc.example'), 'utf8');
    expect(example).toMatch(/^store: \.\/m4me-store\.json$/m);
    writeFileSync(join(etc, 'm4merc.yaml'), example.replace(/^store: .*$/m, `store: ${store}`));
    // Run from a folder with no .m4merc above it, as sudo -u m4me from anywhere would.
    const cwd = join(dir, 'work');
    mkdirSync(cwd);
    const env = { M4ME_SYSTEM_CONFIG_DIR: etc };
    const cli = (args: string[], stdin?: string) => runCli(args, { cwd, env, ...(stdin === undefined ? {} : { stdin }) });

    const init = await cli(['init']);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(statSync(store).mode & 0o777).toBe(0o600);

    // Before the import: check-config warns that no account is there.
    const empty = await cli(['check-config']);
    expect(empty.stdout + empty.stderr).toMatch(/no accounts/i);

    for (const t of types) {
      const csv = join(ROOT, 'samples', 'site', `${t}.csv`);
      const before = readFileSync(store);
      const dry = await cli(['import', t, csv, '--dry-run']);
      expect({ t, code: dry.code, stderr: dry.stderr }).toEqual({ t, code: 0, stderr: '' });
      expect(readFileSync(store).equals(before)).toBe(true);
      const real = await cli(['import', t, csv]);
      expect({ t, code: real.code, stderr: real.stderr }).toEqual({ t, code: 0, stderr: '' });
    }
    const data = readStore(store);
    expect(data.accounts.map((a) => a.id)).toEqual(['acme-it']);
    expect(data.people.length).toBeGreaterThan(1);

    const check = await cli(['check-config']);
    expect(check.code).toBe(0);
    expect(check.stdout + check.stderr).not.toMatch(/warning|no accounts/i);

    // The first real delivery from a person of the sample site: a request, not a rejection.
    const alice = await cli(['process', '--json', '--now', '2026-03-02T09:00:00+00:00'],
      eml({ from: 'Alice Meyer <alice.meyer@acme.example>', to: 'acme-it@mail.4me.com', subject: 'VPN does not connect', id: 'first@acme.example' }));
    expect(alice.code).toBe(0);
    const [created] = jsonLines(alice.stdout);
    expect(created).toMatchObject({ outcome: 'request_created', recipient: 'acme-it@mail.4me.com' });
    expect(readStore(store).requests.some((r) => r.subject === 'VPN does not connect' && r.account === 'acme-it')).toBe(true);

    // A stranger's mail is rejected (with the public 'Email Rejected' reply), exit 0.
    const stranger = await cli(['process', '--json', '--now', '2026-03-02T09:01:00+00:00'],
      eml({ from: 'Mallory <mallory@elsewhere.example>', to: 'acme-it@mail.4me.com', subject: 'Hello', id: 'stranger@elsewhere.example' }));
    expect(stranger.code).toBe(0);
    expect(jsonLines(stranger.stdout)[0]).toMatchObject({ outcome: 'rejected' });
  });
});

/**
 * Where the configuration comes from: --config, then M4ME_CONFIG, then cosmiconfig's search
 * from the working folder, then the system-wide /etc/m4me/m4merc.{json,yaml} (moved here by
 * M4ME_SYSTEM_CONFIG_DIR). The example file, copied there as it is, is a working configuration
 * whose outbox and quarantine follow the store.
 */
import { expect, test } from '@jest/globals';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoStoreFile, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { describeJsonOnly, describeStores, testStore } from '../helpers/stores.js';

/** A folder with a store of its own and a configuration naming it; `list` then says which store it read. */
function site(name: string): { dir: string; config: string; store: string } {
  const dir = tempDir(`m4me-${name}-`);
  const store = demoStoreFile(dir);
  const config = join(dir, 'm4merc.json');
  writeFileSync(config, JSON.stringify({ store }));
  return { dir, config, store };
}
const storeOf = async (args: string[], env: Record<string, string>, cwd: string) => {
  const r = await runCli(['check-config', ...args], { env, cwd });
  return /store (\S+\.json)/.exec(r.stdout)?.[1] ?? `exit ${r.code}: ${r.stderr}`;
};

describeJsonOnly('where the configuration is found, and the example\'s store file beside it: nothing of the store is read', 'configuration search', () => {
  test('--config, then M4ME_CONFIG, then the search from the working folder, then the system folder', async () => {
    const [cli, envSite, local, system] = ['cli', 'env', 'local', 'system'].map(site);
    const cwd = tempDir('m4me-cwd-');
    const sys = { M4ME_SYSTEM_CONFIG_DIR: system!.dir };
    expect(await storeOf([], sys, cwd)).toBe(system!.store);
    writeFileSync(join(cwd, '.m4merc.json'), JSON.stringify({ store: local!.store }));
    expect(await storeOf([], sys, cwd)).toBe(local!.store);
    expect(await storeOf([], { ...sys, M4ME_CONFIG: envSite!.config }, cwd)).toBe(envSite!.store);
    expect(await storeOf(['--config', cli!.config], { ...sys, M4ME_CONFIG: envSite!.config }, cwd)).toBe(cli!.store);
  });

  test('M4ME_CONFIG naming a file that is not there: one 4.3.5 line, 78', async () => {
    const r = await runCli(['list', 'request'], { env: { M4ME_CONFIG: '/nonexistent/m4merc.json' }, cwd: tempDir() });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/^4\.3\.5 m4me: invalid configuration: .*does not exist/);
  });

  test('.m4merc.example copied to the system folder as it is: init and check-config work, outbox and quarantine beside the store', async () => {
    const etc = tempDir('m4me-etc-');
    mkdirSync(etc, { recursive: true });
    copyFileSync(join(ROOT, '.m4merc.example'), join(etc, 'm4merc.yaml'));
    const env = { M4ME_SYSTEM_CONFIG_DIR: etc };
    const cwd = tempDir('m4me-elsewhere-');
    expect((await runCli(['init'], { env, cwd })).code).toBe(0);
    const check = await runCli(['check-config'], { env, cwd });
    expect(check.stdout).toContain(`store ${join(etc, 'm4me-store.json')}`);
    expect(check.stdout).toContain(`outbox ${join(etc, 'm4me-store.json.outbox')}`);
    expect(check.stdout).toContain(`quarantine ${join(etc, 'm4me-store.json.quarantine')}`);
    expect(check.stdout).not.toMatch(/corp\.example|helpdesk@/); // no live example values
    // A fresh store takes no mail: said, though nothing is wrong with the files.
    expect(check.stdout).toMatch(/^! the store has no accounts: every message will be rejected \(fill it with m4me import/m);
  });

});

describeStores('check-config and the store\'s accounts', () => {
  test('check-config warns of an alias to an account the store does not have, or to a domain not served', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const config = join(dir, 'm4merc.json');
    writeFileSync(config, JSON.stringify({ store, aliases: { 'help@corp.example': 'widget-fin@mail.4me.com', 'it@corp.example': 'widget-it@elsewhere.example', 'ok@corp.example': 'widget-it@mail.4me.com' } }));
    const r = await runCli(['check-config', '--config', config]);
    expect(r.stdout).toContain('! alias help@corp.example → widget-fin@mail.4me.com: the store has no account widget-fin');
    expect(r.stdout).toContain('! alias it@corp.example → widget-it@elsewhere.example: elsewhere.example is not a mailDomain');
    expect(r.stdout).not.toContain('ok@corp.example');
  });
});

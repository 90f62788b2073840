/**
 * The README's procmail and maildrop recipes, taken from README.md as they are written
 * (only the paths of node, m4me and the configuration replaced), run by the real programs
 * (installed by test/mta/setup.sh): a message lands in the store and the program exits 0;
 * with the store unusable m4me exits 75 and so does the program, so the MTA keeps the message.
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, demoStoreFile, eml, readStore, ROOT, tempDir, testIf } from '../helpers/cli.js';

/** The first code block of the README section with this heading. */
function recipe(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`### ${heading}`));
  const block = /```\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`no code block under "### ${heading}" in README.md`);
  return block[1]!;
}

const which = (program: string): string | null => {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};

function setup(heading: string, file: string) {
  const dir = tempDir();
  const store = demoStoreFile(dir);
  const config = join(dir, 'm4merc.json');
  writeFileSync(config, JSON.stringify({ store }));
  const text = recipe(heading);
  expect(text).toContain('/usr/bin/node /opt/m4me/bin/m4me.js');
  const rc = join(dir, file);
  writeFileSync(rc, text.replaceAll('/usr/bin/node /opt/m4me/bin/m4me.js', `${process.execPath} ${BIN}`).replaceAll('/etc/m4me/m4merc.json', config));
  chmodSync(rc, 0o600);
  return { dir, store, rc };
}

/** Delivers with the store made a directory (unusable), then puts it back. */
function withBrokenStore<T>(store: string, run: () => T): T {
  renameSync(store, `${store}.bak`);
  mkdirSync(store);
  try { return run(); } finally { rmdirSync(store); renameSync(`${store}.bak`, store); }
}

const message = (id: string) => eml({ id, to: 'helpdesk@corp.example', subject: `Recipe ${id}` });

describe.each([
  ['procmail', 'procmailrc', (rc: string) => ['-m', rc]],
  ['maildrop', 'mailfilter', (rc: string) => [rc]],
] as const)('the README %s recipe', (program, file, args) => {
  const bin = which(program);
  testIf(bin !== null || `${program} is not installed (test/mta/setup.sh installs it)`, `the README ${program} recipe`)('delivers into the store (exit 0); an unusable store gives 75, so the MTA retries', () => {
    if (!bin) return;
    const { dir, store, rc } = setup(program, file);
    const run = (id: string) => spawnSync(bin, args(rc), { input: message(id), cwd: dir, encoding: 'utf8', env: { ...process.env, HOME: dir } });
    const ok = run(`${program}-1@t`);
    expect([ok.status, ok.stderr]).toEqual([0, '']);
    expect(readStore(store).requests.filter((r) => r.message_id === `${program}-1@t`)).toHaveLength(1);
    const deferred = withBrokenStore(store, () => run(`${program}-2@t`));
    expect(deferred.status).toBe(75);
    expect(deferred.stderr).toMatch(/^4\.3\.5 m4me: /);
    expect(readStore(store).inbound.filter((e) => e.message_id === `${program}-2@t`)).toHaveLength(0);
    // The retry, once the store is fixed, delivers it once.
    expect(run(`${program}-2@t`).status).toBe(0);
    expect(readStore(store).requests.filter((r) => r.message_id === `${program}-2@t`)).toHaveLength(1);
  }, 60_000);
});

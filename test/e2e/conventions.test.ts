/**
 * Command-line conventions an administrator relies on: NO_COLOR / FORCE_COLOR on a real
 * terminal (script(1)), a reader that goes away (`| head`, a pager that quits) ending quietly
 * with 0 and without losing work, and no spinner drawn over a pager.
 */
import { expect, test } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, DEMO_NOW, demoStoreFile, eml, readStore, ROOT, tempDir, testIf } from '../helpers/cli.js';
import { describeJsonOnly, describeStores, PG, siteFolder, testStore } from '../helpers/stores.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
const q = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
const m4me = (...args: string[]) => [process.execPath, BIN, ...args].map(q).join(' ');
const { CI: _ci, NO_COLOR: _nc, FORCE_COLOR: _fc, ...ENV } = process.env;

/** Runs a shell command line on a terminal (script(1)); returns what the terminal showed. */
function onTerminal(cmd: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(SCRIPT!, ['-qec', `stty cols 120 rows 40; ${cmd}`, '/dev/null'], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...ENV, TERM: 'xterm-256color', ...env } });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.on('close', () => resolve(text));
  });
}

/** bash -o pipefail: the exit status of m4me itself, on the left of the pipe; run in `cwd` (a store's site folder). */
function piped(cmd: string, cwd: string): { code: number | null; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8', cwd, env: { ...ENV, NO_COLOR: '1' } });
  return { code: r.status, stderr: r.stderr };
}

describeJsonOnly('colour of the output on a terminal: nothing of it depends on the store', 'colour on a terminal', () => {
  testIf(SCRIPT !== undefined || 'script(1) not found', 'the colour-on-a-terminal test')('coloured by default, plain with NO_COLOR, coloured again with FORCE_COLOR', async () => {
    const store = demoStoreFile();
    const show = m4me('show', 'request', '100001', '--store', store);
    expect(await onTerminal(show)).toMatch(/\x1b\[1m/);
    const plain = await onTerminal(show, { NO_COLOR: '1' });
    expect(plain).toContain('request #100001');
    expect(plain).not.toMatch(/\x1b\[[0-9;]*m/);
    expect(await onTerminal(show, { NO_COLOR: '1', FORCE_COLOR: '1' })).toMatch(/\x1b\[1m/);
  });
});

describeStores('a reader that goes away', () => {
  test('read-only commands piped into head: exit 0, no EPIPE, no stack trace', async () => {
    const store = await testStore();
    const mbox = join(ROOT, 'samples', 'demo.mbox');
    for (const args of [
      ['process', '--dry-run', '--explain', '--store', store, '--now', DEMO_NOW, mbox],
      ['list', 'request', '--store', store],
      ...(PG ? [] : [['export', 'people', '--store', store]]), // export refuses a URL (78)
      ['--help'],
    ]) {
      const r = piped(`${m4me(...args)} | head -c 10 > /dev/null`, siteFolder(store));
      expect([args[0], r.code]).toEqual([args[0], 0]);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at |Error/);
    }
  });

  test('a run that changes the store goes on to the end and commits everything: exit 0', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const mbox = join(dir, 'many.mbox');
    writeFileSync(mbox, Array.from({ length: 300 }, (_, i) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id: `pipe${i}@t`, subject: `Piped ${i}` })}\n`).join(''));
    const r = piped(`${m4me('process', '--explain', '--store', store, '--now', DEMO_NOW, mbox)} | head -n 1 > /dev/null`, dir);
    expect([r.code, r.stderr.replace(/^\n[\s\S]*$/, '')]).toEqual([0, '']);
    const ids = new Set(readStore(store).requests.map((x) => x.message_id));
    expect(Array.from({ length: 300 }, (_, i) => ids.has(`pipe${i}@t`)).every(Boolean)).toBe(true);
  });
});

describeJsonOnly('the spinner under a pager: nothing of it depends on the store', 'the spinner', () => {
  testIf(SCRIPT !== undefined || 'script(1) not found', 'the spinner-under-a-pager test')('none while the results are piped on (a pager on the same terminal); shown when they go to a file', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const mbox = join(dir, 'many.mbox');
    writeFileSync(mbox, Array.from({ length: 2000 }, (_, i) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id: `spin${i}@t`, subject: `Spin ${i}` })}\n`).join(''));
    const args = ['process', '--dry-run', '--store', store, '--now', DEMO_NOW, mbox];
    const paged = await onTerminal(`${m4me(...args)} | cat > ${q(join(dir, 'paged'))}`);
    expect(paged).not.toMatch(/messages \(\d+\/s/);
    expect(paged).toMatch(/2000 messages in/); // the summary still reaches the terminal, once, at the end
    const toFile = await onTerminal(`${m4me(...args)} > ${q(join(dir, 'file'))}`);
    expect(toFile).toMatch(/messages \(\d+\/s/);
    expect(readFileSync(join(dir, 'paged'), 'utf8')).toBe(readFileSync(join(dir, 'file'), 'utf8'));
  }, 60_000);
});

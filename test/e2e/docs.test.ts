/**
 * The manual page (man/m4me.1, written by `npm run build` from the commander definitions) and
 * `m4me completion bash|zsh`: every command and every option the CLI's own --help lists is in
 * both, and the completion script completes in a real bash.
 */
import { expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, tempDir, testIf } from '../helpers/cli.js';
import { describeJsonOnly } from '../helpers/stores.js';

const which = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' }).stdout.trim() || null;

/** Commands and their long options, as `m4me --help` and `m4me <command> --help` print them. */
async function cliSurface(): Promise<Map<string, string[]>> {
  const top = await runCli(['--help']);
  const commands = [...top.stdout.matchAll(/^ {2}([a-z][a-z-]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  const out = new Map<string, string[]>();
  for (const c of commands) {
    const h = await runCli([c, '--help']);
    out.set(c, [...h.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help'));
  }
  return out;
}

describeJsonOnly('the manual page and shell completion: no store', 'manual page and shell completion', () => {
  test('man/m4me.1 names every command and option of the CLI, and groff reads it without a warning', async () => {
    const page = readFileSync(join(ROOT, 'man', 'm4me.1'), 'utf8');
    const surface = await cliSurface();
    expect(surface.size).toBeGreaterThanOrEqual(7);
    for (const [cmd, options] of surface) {
      expect(page).toContain(`.SS "${cmd.replace(/-/g, "\\-")}`);
      for (const o of options) expect(page).toContain(`.B ${o.replace(/-/g, '\\-')}`);
    }
    expect(page).toMatch(/\.SH EXIT STATUS[\s\S]*\.B 75/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[] };
    expect(pkg.man.map((m) => existsSync(join(ROOT, m)))).toEqual(pkg.man.map(() => true));
    if (which('groff')) {
      const g = spawnSync('groff', ['-man', '-ww', '-z', join(ROOT, 'man', 'm4me.1')], { encoding: 'utf8' });
      expect([g.status, g.stderr]).toEqual([0, '']);
    }
  });

  test('bash: commands, options and an option\'s choices complete', async () => {
    const run = await runCli(['completion', 'bash']);
    expect(run.code).toBe(0);
    const script = join(tempDir(), 'm4me.bash');
    writeFileSync(script, run.stdout);
    const complete = (...words: string[]) => {
      const r = spawnSync('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _m4me; printf '%s\\n' "\${COMPREPLY[@]}"`, script], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter(Boolean).sort();
    };
    expect(complete('m4me', 'pro')).toEqual(['process']);
    expect(complete('m4me', 'process', '--cl')).toEqual(['--clock']);
    expect(complete('m4me', 'process', '--clock', '')).toEqual(['message', 'system']);
    expect(complete('m4me', 'completion', '--h')).toEqual(['--help']);
    const surface = await cliSurface();
    for (const [cmd, options] of surface) expect(complete('m4me', cmd, '--')).toEqual(expect.arrayContaining(options));
  });

  testIf(which('zsh') !== null || 'zsh is not installed', 'the zsh completion syntax check')('zsh: the script parses', async () => {
    const run = await runCli(['completion', 'zsh']);
    const r = spawnSync('zsh', ['-n'], { input: run.stdout, encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(run.stdout).toMatch(/^#compdef m4me/);
  });

  test('an unknown shell is a usage error (64), one line', async () => {
    const r = await runCli(['completion', 'fish']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^5\.5\.4 m4me: .*fish.*\n$/);
  });
});

/**
 * What a single delivery loads: the bundled CLI (dist/cli/m4me.js) imports at its top only
 * what every command needs. Packages for other paths are loaded when used: smtp-server only
 * by `m4me serve` (dist/cli/serve.js, beside the bundle), pg only for a postgres:// store.
 * smtp-server at the top of the bundle cost every pipe delivery ~40 ms (bench: 286 vs 248 ms).
 */
import { expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, eml, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { describeJsonOnly } from '../helpers/stores.js';

describeJsonOnly('what the bundle imports at load, whatever the store (pg is loaded for a URL only)', 'the bundled CLI', () => {
  test('imports neither smtp-server nor pg at load; serve is a module beside it and still runs', async () => {
    const bundle = readFileSync(join(ROOT, 'dist', 'cli', 'm4me.js'), 'utf8');
    const topImports = bundle.split('\n').filter((l) => /^import\b/.test(l)).map((l) => /from "([^"]+)"/.exec(l)?.[1] ?? l);
    expect(topImports.length).toBeGreaterThan(5);
    for (const pkg of ['smtp-server', 'pg', 'nodemailer', 'node:net']) expect(topImports).not.toContain(pkg);
    expect(existsSync(join(ROOT, 'dist', 'cli', 'serve.js'))).toBe(true);
    // A delivery works, and serve's own usage errors still give 64 with one 5.5.4 line.
    const store = demoStoreFile(tempDir());
    expect((await runCli(['process', '--store', store, '--now', DEMO_NOW], { stdin: eml({ id: 'bundle@t' }) })).code).toBe(0);
    const any = await runCli(['serve', '--lmtp', '0.0.0.0:2424', '--store', store]);
    expect([any.code, any.stderr]).toEqual([64, expect.stringMatching(/^5\.5\.4 m4me: --lmtp 0\.0\.0\.0:2424: [^\n]*--listen-any[^\n]*\n$/)]);
  });
});

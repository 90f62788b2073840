// Global setup of the jest project e2e-pg: test/pg/e2e-global.ts. Jest loads a global setup
// with require, outside the module mapping of the tests (so not a TypeScript file whose
// imports end in .js); this one has esbuild (a dev dependency, as `npm run build` uses)
// bundle that file into a temporary module, and runs it.
import { build } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export default async function setup(_globalConfig, projectConfig) {
  const root = projectConfig.rootDir;
  const out = await build({
    entryPoints: [join(root, 'test', 'pg', 'e2e-global.ts')],
    bundle: true, platform: 'node', format: 'esm', target: 'node20', write: false, logLevel: 'warning',
  });
  const dir = mkdtempSync(join(tmpdir(), 'm4me-e2epg-setup-'));
  try {
    const file = join(dir, 'e2e-global.mjs');
    writeFileSync(file, out.outputFiles[0].text);
    const { setup: start } = await import(pathToFileURL(file).href);
    await start(root);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

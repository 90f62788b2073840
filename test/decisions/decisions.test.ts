/**
 * Decision tests as data: every `cases/*.json` names an `.eml` and the decision it must
 * produce. Each case runs the built CLI against a fresh demo store (patched as the case
 * says), then the JSON output and the store file are checked against the expectation.
 * The JSON and .eml files are the only source of the cases: write a new case by hand
 * (no generator rewrites them).
 */
import { beforeAll, describe, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StoreData } from '../../src/store/schema.js';
import { DEMO_NOW, demoStoreFile, readStore, runCli, type Run, tempDir } from '../helpers/cli.js';
import { applyPatch, CASES, cases, checkDecision, CONFIG } from './cases.js';

const runs = new Map<string, { run: Run; store: StoreData; storePath: string }>();

beforeAll(async () => {
  const queue = [...cases];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const [name, spec] = c;
      const dir = tempDir();
      const storePath = demoStoreFile(dir, (s) => spec.store?.forEach((p) => applyPatch(s, p)));
      const config = join(dir, 'm4me.json');
      writeFileSync(config, JSON.stringify(CONFIG));
      const args = ['process', '--json', '--config', config, '--store', storePath, '--now', DEMO_NOW, ...(spec.args ?? []), resolve(CASES, spec.eml)];
      const run = await runCli(args, { env: spec.env });
      runs.set(name, { run, store: readStore(storePath), storePath });
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}, 300_000);

describe.each(cases)('%s', (name, spec) => {
  test(spec.title, () => {
    const { run, store } = runs.get(name)!;
    checkDecision(spec, run, store);
  });
});

/**
 * Every decision case (test/decisions) against a PostgreSQL store, through the real CLI:
 * the case's starting store (the demo store, patched as the case says) copied into a fresh
 * database with copy-store, the .eml processed with `--store URL`, and then
 *  - the result checked against the case exactly as the JSON store's run is
 *    (test/decisions/cases.ts checkDecision, on the store copied back to a file);
 *  - the same message processed by the JSON store from the same starting store: the
 *    stdout is the same, the PostgreSQL store copied back to a file is byte for byte the
 *    JSON store's file, and the outbox and attachment files are the same.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { StoreData } from '../../src/store/schema.js';
import { applyPatch, CASES, cases, checkDecision, CONFIG } from '../decisions/cases.js';
import { DEMO_NOW, demoStoreFile, readStore, runCli, type Run, tempDir } from '../helpers/cli.js';
import { snapshot } from '../reliability/helpers.js';
import { describePg } from './cluster.js';

const ok = (what: string, r: Run) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

interface Outcome {
  pg: Run; json: Run;
  /** The PostgreSQL store copied back to a file, and the JSON store after the same message. */
  back: string; file: string;
  pgOutbox: string; jsonOutbox: string;
}

describePg('decision cases on a PostgreSQL store', (pgc) => {
  const runs = new Map<string, Outcome | Error>();

  beforeAll(async () => {
    const c = pgc();
    // Cases that patch nothing start from one database, copied (CREATE DATABASE … TEMPLATE).
    const base = tempDir('m4me-pgdec-');
    const demo = demoStoreFile(base);
    const template = c.createDatabase('demo_template');
    ok('copy-store into the template', await runCli(['copy-store', demo, template, '--quiet']));
    let n = 0;
    const queue = [...cases];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, spec] = next;
        const db = `case_${++n}`;
        try {
          const dir = tempDir('m4me-pgdec-');
          const start = spec.store?.length ? demoStoreFile(dir, (s) => spec.store!.forEach((p) => applyPatch(s, p))) : demoStoreFile(dir);
          // The JSON store: its own copy of the starting store, its configuration beside it.
          mkdirSync(join(dir, 'json'));
          const file = join(dir, 'json', 'store.json');
          copyFileSync(start, file);
          writeFileSync(join(dir, 'json', 'm4me.json'), JSON.stringify(CONFIG));
          // The PostgreSQL store: outbox and quarantine beside its configuration (CONTRACT §7).
          mkdirSync(join(dir, 'pg'));
          writeFileSync(join(dir, 'pg', 'm4me.json'), JSON.stringify(CONFIG));
          let url: string;
          if (spec.store?.length) {
            url = c.createDatabase(db);
            ok('copy-store', await runCli(['copy-store', start, url, '--quiet']));
          } else {
            c.psql(`CREATE DATABASE "${db}" TEMPLATE demo_template`);
            url = c.urlOf(db);
          }
          const args = (config: string, store: string) => ['process', '--json', '--config', config, '--store', store,
            '--now', DEMO_NOW, ...(spec.args ?? []), resolve(CASES, spec.eml)];
          const [pg, json] = await Promise.all([
            runCli(args(join(dir, 'pg', 'm4me.json'), url), { env: spec.env }),
            runCli(args(join(dir, 'json', 'm4me.json'), file), { env: spec.env }),
          ]);
          mkdirSync(join(dir, 'back'));
          const back = join(dir, 'back', 'store.json');
          ok('copy-store back', await runCli(['copy-store', url, back, '--quiet']));
          c.psql(`DROP DATABASE "${db}"`);
          runs.set(name, { pg, json, back, file, pgOutbox: join(dir, 'pg', 'm4me.outbox'), jsonOutbox: `${file}.outbox` });
        } catch (err) {
          runs.set(name, err as Error);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 900_000);

  afterAll(() => runs.clear());

  const get = (name: string): Outcome => {
    const r = runs.get(name);
    if (!r) throw new Error(`case ${name} did not run`);
    if (r instanceof Error) throw r;
    return r;
  };

  describe.each(cases)('%s', (name, spec) => {
    test(`${spec.title} (PostgreSQL: the case holds; output, store, outbox and files as the JSON store's)`, () => {
      const { pg, json, back, file, pgOutbox, jsonOutbox } = get(name);
      const store: StoreData = readStore(back);
      checkDecision(spec, pg, store);
      expect(pg.stdout).toBe(json.stdout);
      expect({ code: pg.code, stderr: pg.stderr }).toEqual({ code: json.code, stderr: json.stderr });
      const same = readFileSync(back).equals(readFileSync(file));
      if (!same) expect(readFileSync(back, 'utf8')).toBe(readFileSync(file, 'utf8'));
      expect(same).toBe(true);
      expect(snapshot(pgOutbox)).toEqual(snapshot(jsonOutbox));
      expect(snapshot(`${back}.files`)).toEqual(snapshot(`${file}.files`));
    });
  });
});

import { mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { describeIoError, TempFailure } from '../store/errors.js';
import { emptyStore } from '../store/schema.js';
import { loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';

export async function runInit(opts: { demo: boolean; store?: string; config?: string; force: boolean; quiet: boolean }): Promise<number> {
  // A configuration that is wrong is said so (exit 78), not passed over for a store in the current folder.
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const given = opts.store ? resolve(opts.store) : config.store;
  const exists = await stat(given).then(() => true, () => false);
  if (exists && !opts.force) throw new UsageError(`${given} already exists (use --force to replace it)`);
  // A symlinked store is replaced at its target: the link stays.
  const path = exists ? await realpath(given) : given;
  const data = opts.demo ? (await import('../store/demo.js')).demoStore() : emptyStore();
  try {
    await mkdir(dirname(path), { recursive: true });
    // A new store is written by lowdb (steno: temp file and rename), as a plain JSON file an
    // operator can read; the first delivery rewrites it in the compact form m4me keeps.
    const { Low } = await import('lowdb');
    const { JSONFile } = await import('lowdb/node');
    const db = new Low<typeof data>(new JSONFile(path), data);
    await db.write();
  } catch (err) {
    await unlink(join(dirname(path), `.${basename(path)}.tmp`)).catch(() => undefined); // steno's, left by a full disk
    throw new TempFailure('4.3.0', `cannot write ${path}: ${describeIoError(err)}`);
  }
  if (!opts.quiet) {
    process.stdout.write(`created ${opts.demo ? 'demo ' : ''}store ${path}` +
      `${opts.demo ? ` (${data.accounts.length} accounts, ${data.people.length} people, ${data.requests.length} requests)` : ''}\n`);
  }
  return EX.OK;
}

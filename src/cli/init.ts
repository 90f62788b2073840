import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeIoError, TempFailure } from '../store/errors.js';
import { emptyStore } from '../store/schema.js';
import { atomicWrite } from '../store/store.js';
import { loadConfig } from './config.js';
import { UsageError } from './exit.js';

export async function runInit(opts: { demo: boolean; store?: string; config?: string; force: boolean; quiet: boolean }): Promise<number> {
  // A configuration that is wrong is said so (exit 78), not passed over for a store in the current folder.
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const path = opts.store ? resolve(opts.store) : config.store;
  const exists = await stat(path).then(() => true, () => false);
  if (exists && !opts.force) throw new UsageError(`${path} already exists (use --force to replace it)`);
  const data = opts.demo ? (await import('../store/demo.js')).demoStore() : emptyStore();
  try {
    await mkdir(dirname(path), { recursive: true });
    await atomicWrite(path, JSON.stringify(data));
  } catch (err) {
    throw new TempFailure('4.3.0', `cannot write ${path}: ${describeIoError(err)}`);
  }
  if (!opts.quiet) {
    process.stdout.write(`created ${opts.demo ? 'demo ' : ''}store ${path}` +
      `${opts.demo ? ` (${data.accounts.length} accounts, ${data.people.length} people, ${data.requests.length} requests)` : ''}\n`);
  }
  return 0;
}

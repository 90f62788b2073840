import { chmod, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { describeIoError, TempFailure } from '../store/errors.js';
import { emptyStore } from '../store/schema.js';
import { loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';
import { isPgUrl, redactUrl } from '../store/pg/url.js';

export async function runInit(opts: { demo: boolean; store?: string; config?: string; force: boolean; quiet: boolean }): Promise<number> {
  // A configuration that is wrong is said so (exit 78), not passed over for a store in the current folder.
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  if (isPgUrl(opts.store ?? config.store)) return initPg(opts.store ?? config.store, opts);
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
    // A store holds personal data: a new one is for its owner only (0600, whatever the umask);
    // one replaced with --force keeps the mode an operator gave it.
    const mode = exists ? (await stat(path)).mode & 0o7777 : 0o600;
    await db.write();
    await chmod(path, mode);
    // A journal serve left beside the store replaced extends that store, not this one.
    await unlink(`${path}.journal`).catch(() => undefined);
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

/**
 * `init --store URL`: creates the schema or brings it up to date (a newer one is refused),
 * and gives an empty store its first document (the demo's with --demo). A store with
 * content is left as it is, unless --force replaces it.
 */
async function initPg(url: string, opts: { demo: boolean; force: boolean; quiet: boolean }): Promise<number> {
  const { inTransaction, openPool } = await import('../store/pg/connect.js');
  const { migrate } = await import('../store/pg/schema.js');
  const doc = await import('../store/pg/document.js');
  const db = await openPool(url);
  try {
    const { from, to } = await migrate(db);
    const data = opts.demo ? (await import('../store/demo.js')).demoStore() : emptyStore();
    const wrote = await inTransaction(db, async (c) => {
      await c.query('LOCK TABLE m4me_document IN EXCLUSIVE MODE');
      if (await doc.pgStoreHasContent(c)) {
        if (!opts.force) return false;
        await doc.clearPgStore(c);
      }
      // The document `m4me init` writes to a file (indented, as lowdb does).
      await doc.writePgDocument(c, { layout: 'indented', entries: doc.documentOf(data as unknown as Record<string, unknown>), blobs: new Map() });
      return true;
    });
    if (!wrote && opts.demo) throw new UsageError(`${redactUrl(url)} already has content (use --force to replace it)`);
    if (!opts.quiet) {
      const schema = from === null ? `created schema version ${to}` : from === to ? `schema version ${to} is up to date` : `upgraded schema ${from} → ${to}`;
      const content = wrote ? `; ${opts.demo ? `demo store (${data.accounts.length} accounts, ${data.people.length} people, ${data.requests.length} requests)` : 'empty store'}` : '';
      process.stdout.write(`store ${redactUrl(url)}: ${schema}${content}\n`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

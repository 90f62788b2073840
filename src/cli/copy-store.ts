/**
 * `m4me copy-store SRC DST [--force]` (CONTRACT §7): copies one store into another, each a
 * JSON file or a postgres:// URL — every collection of §3, in order, and every attachment's
 * bytes. DST must be absent or empty unless --force, which replaces its content. A
 * PostgreSQL store copied to a file is the document the file store holds, byte for byte.
 */
import { rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { describeIoError, TempFailure } from '../store/errors.js';
import { isPgUrl, redactUrl } from '../store/pg/url.js';
import type { StoreDocument } from '../store/pg/document.js';
import { UsageError } from './exit.js';

export async function runCopyStore(src: string, dst: string, opts: { force: boolean; quiet: boolean }): Promise<number> {
  const from = isPgUrl(src) ? src : resolve(src);
  const to = isPgUrl(dst) ? dst : resolve(dst);
  if (from === to) throw new UsageError('SRC and DST are the same store');
  const name = (s: string) => (isPgUrl(s) ? redactUrl(s) : s);
  const doc = await import('../store/pg/document.js');
  const started = Date.now();

  let data: StoreDocument;
  if (isPgUrl(from)) {
    const { openPool, withClient } = await import('../store/pg/connect.js');
    const { checkSchema } = await import('../store/pg/schema.js');
    const db = await openPool(from, { statementTimeoutMs: 600_000 });
    try {
      await checkSchema(db);
      // One snapshot of a store others may be delivering into.
      data = await withClient(db, async (c) => {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try { return await doc.readPgDocument(c); } finally { await c.query('ROLLBACK'); }
      });
    } finally { await db.close(); }
  } else {
    try {
      // The store as its readers see it: with the journal serve keeps beside it, folded in as
      // a fold would (the document then in the compact layout a fold writes).
      const { applyToData, readWithJournal } = await import('../store/journal.js');
      const read = readWithJournal(from, () => doc.readFileDocument(from));
      data = read.value;
      if (read.journal.state === 'current' && read.journal.groups.length) {
        const plain = Object.fromEntries(data.entries.map((e) => [e.name, e.rows ? e.rows.map((r) => JSON.parse(r) as unknown) : JSON.parse(e.value!) as unknown]));
        applyToData(plain, read.journal.groups);
        data = { layout: 'compact', entries: doc.documentOf(plain), blobs: data.blobs };
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code) throw new TempFailure('4.3.5', `store ${from}: ${e.code === 'ENOENT' ? 'does not exist' : describeIoError(err)}`);
      throw new TempFailure('4.3.5', `store ${from}: not a store (${(e.message ?? String(err)).replace(/[\u0000-\u001f\u007f]+/g, ' ')})`);
    }
    const { storeProblems } = await import('../store/store.js');
    const shapes = Object.fromEntries(data.entries.map((e) => [e.name, e.rows ? e.rows.map((r) => (r[0] === '{' ? {} : null)) : JSON.parse(e.value!)]));
    const accounts = data.entries.find((e) => e.name === 'accounts')?.rows;
    if (accounts) shapes.accounts = accounts.map((r) => JSON.parse(r));
    const problems = storeProblems(shapes);
    if (problems.length) throw new TempFailure('4.3.5', `store ${from}: ${problems.join('; ')}`);
  }

  if (isPgUrl(to)) {
    const { inTransaction, openPool } = await import('../store/pg/connect.js');
    const { migrate } = await import('../store/pg/schema.js');
    const db = await openPool(to, { statementTimeoutMs: 600_000 });
    try {
      await migrate(db);
      const copied = await inTransaction(db, async (c) => {
        // Two copies into one database at once: the second waits, then finds it not empty.
        await c.query('LOCK TABLE m4me_document IN EXCLUSIVE MODE');
        if (await doc.pgStoreHasContent(c)) {
          if (!opts.force) return false; // nothing changed: the commit is empty
          await doc.clearPgStore(c);
        }
        try {
          await doc.writePgDocument(c, data);
        } catch (err) {
          // Two rows with one ID (or ledger key and attempt): the source is at fault, a retry cannot help.
          const e = err as { code?: string; detail?: string; table?: string };
          if (e.code !== '23505') throw err;
          const what = `${e.table ?? 'a table'}: ${e.detail ?? 'a duplicate key'}`.replace(/[\u0000-\u001f\u007f]+/g, ' ');
          throw new TempFailure('4.3.5', `store ${name(from)} holds two rows with one key (${what}); nothing was copied`);
        }
        // New notes name their attachments as the file store did (`<store>.files/…`): a copy
        // back to a file of that name is the document that store would hold.
        if (!isPgUrl(from)) {
          await c.query(`INSERT INTO m4me_meta (key, value) VALUES ('files_dir', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [`${basename(from)}.files`]);
        }
        return true;
      });
      if (!copied) throw new UsageError(`${redactUrl(to)} is not empty (use --force to replace its content)`);
    } finally { await db.close(); }
  } else {
    if (doc.fileStoreHasContent(to) && !opts.force) throw new UsageError(`${to} already exists (use --force to replace it)`);
    try {
      doc.writeFileDocument(to, data);
      // A journal beside the store replaced extends the file that was there: not this one.
      const { journalPath } = await import('../store/journal.js');
      rmSync(journalPath(to), { force: true });
    } catch (err) {
      throw new TempFailure((err as NodeJS.ErrnoException).code === 'ENOSPC' ? '4.3.1' : '4.3.0', `cannot write ${to}: ${describeIoError(err)}`);
    }
  }
  if (!opts.quiet) {
    const count = (n: string) => data.entries.find((e) => e.name === n)?.rows?.length ?? 0;
    process.stdout.write(`copied ${name(from)} to ${name(to)}: ${count('requests')} requests, ${count('notes')} notes, ` +
      `${count('inbound')} ledger entries, ${data.blobs.size} attachments (${Date.now() - started} ms)\n`);
  }
  return 0;
}

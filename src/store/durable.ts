/**
 * Files that are on the disk, not only in the page cache, before m4me exits 0: after that the
 * MTA deletes its copy of the message, and a power loss must not take the delivery with it.
 *
 * A file is written under a temporary name, its data synced (fdatasync), then renamed into
 * place, and the folder holding the new name synced. A sync costs about a millisecond, so a
 * batch must not wait for one per file: `writeTemp` starts the data sync in the thread pool
 * and returns at once; the checkpoint waits for all of them together, renames, and syncs each
 * folder once.
 */
import { closeSync, fdatasync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** Per process and per run: no two processes (or runs) ever share a temporary file name. */
const TAG = `${process.pid}-${randomBytes(4).toString('hex')}`;
let serial = 0;

/** A temporary name beside `path`, unique to this process: `<path>.<pid>-<random>-<n>.tmp`. */
export const tempName = (path: string) => `${path}.${TAG}-${++serial}.tmp`;

/** Whether `name` is a temporary name as tempName makes them (of any process). */
export const isTempName = (name: string) => /\.\d+-[0-9a-f]{8}-\d+\.tmp$/.test(name);

/** The final name of a temporary file. */
export const finalName = (tmp: string) => tmp.replace(/\.\d+-[0-9a-f]{8}-\d+\.tmp$/, '');

const FAULT = process.env.M4ME_FAULT;
export const injected = (): NodeJS.ErrnoException =>
  Object.assign(new Error(`ENOSPC: no space left on device (M4ME_FAULT=${FAULT})`), { code: 'ENOSPC' });

/** A file written under its temporary name, its data sync under way. */
export interface TempFile { tmp: string; path: string; synced: Promise<void> }

/**
 * Writes `content` to a new temporary file beside `path` and starts its data sync. Throws (and
 * leaves nothing behind) when the write fails; a failed sync rejects `synced`.
 * `M4ME_FAULT=write-file` (tests) fails it after half of the bytes, as a full disk does.
 */
export function writeTemp(path: string, content: string | Buffer): TempFile {
  const tmp = tempName(path);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const fd = openSync(tmp, 'wx');
  try {
    if (FAULT === 'write-file') {
      writeAll(fd, bytes.subarray(0, bytes.length >> 1));
      throw injected();
    }
    writeAll(fd, bytes);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
  const synced = new Promise<void>((resolve, reject) => {
    fdatasync(fd, (err) => {
      try { closeSync(fd); } catch { /* closed */ }
      if (err) reject(err); else resolve();
    });
  });
  synced.catch(() => undefined); // awaited by the checkpoint; never an unhandled rejection
  return { tmp, path, synced };
}

function writeAll(fd: number, b: Buffer): void {
  for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
}

/** Syncs a folder, so the names created or renamed in it are on the disk. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

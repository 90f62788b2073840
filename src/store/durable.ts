/**
 * Files that are on the disk, not only in the page cache, before m4me exits 0: after that the
 * MTA deletes its copy of the message, and a power loss must not take the delivery with it.
 *
 * A file is written under a temporary name, its data synced, then renamed into place, and the
 * folder holding the new name synced. A file sync costs about a millisecond here (0.14 ms of
 * CPU, the rest waiting for the disk's journal), so a batch does not pay it per file: its
 * files are written as it goes (synchronously: creating a file in the thread pool costs more
 * CPU in hand-offs than the write itself) and made durable together at the checkpoint, by
 * `makeDurable`: with many files, one syncfs(2) of their file system (`sync -f`, coreutils)
 * flushes them all with one journal commit; with a few (a single delivery), or where that is
 * not possible, each file is fdatasync'ed (in the thread pool, all at once) and each folder
 * fsync'ed.
 */
import { close, closeSync, fdatasync, fsync, fsyncSync, open, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
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

/**
 * The mode of the files and folders m4me makes beside the store (attachments, replies,
 * quarantine, the delivery log): the store's own (read when it is opened), so mail a store
 * keeps private is not left readable by all in the folders beside it. Until a store is
 * opened: 0600. The umask still applies on top.
 */
let newFileMode = 0o600;

export function useModeOf(storeMode: number): void {
  newFileMode = storeMode & 0o666 || 0o600;
}

/** The mode for a new file beside the store. */
export const fileMode = () => newFileMode;

/** The mode for a new folder beside the store: the file mode, searchable where readable. */
export const folderMode = () => newFileMode | ((newFileMode & 0o444) >> 2);

/** A file written under its temporary name (not yet synced); `placed` once renamed to `path`. */
export interface TempFile { tmp: string; path: string; placed?: boolean }

/**
 * Writes `content` to a new temporary file beside `path`. Throws, leaving nothing behind, when
 * it fails. `fault` (tests: M4ME_FAULT) fails it after half of the bytes, as a full disk does.
 */
export function writeTemp(path: string, content: string | Buffer, fault = FAULT === 'write-file'): TempFile {
  const tmp = tempName(path);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const fd = openSync(tmp, 'wx', newFileMode);
  try {
    if (fault) {
      writeAll(fd, bytes.subarray(0, bytes.length >> 1));
      throw injected();
    }
    writeAll(fd, bytes);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
  closeSync(fd);
  return { tmp, path };
}

function writeAll(fd: number, b: Buffer): void {
  for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
}

/** Opens `path` read-only, syncs it (its data only, or with its metadata for a folder) and closes it, in the thread pool. */
function syncPath(path: string, dataOnly: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    open(path, 'r', (err, fd) => {
      if (err) return reject(err);
      (dataOnly ? fdatasync : fsync)(fd, (e) => close(fd, () => (e ? reject(e) : resolve())));
    });
  });
}

/** Syncs folders, so the names made or renamed in them are on the disk. */
export async function syncDirs(dirs: Iterable<string>): Promise<void> {
  await Promise.all([...dirs].map((d) => syncPath(d, false)));
}

/** Syncs one folder (synchronously: the store's, right after its commit). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** From this many files on, a checkpoint syncs their file system once instead of each file. */
export const SYNCFS_MIN = 16;
let syncfsWorks: boolean | null = null;

/**
 * Puts `files` (their data) on the disk, runs `place` (the renames), then puts the names in
 * `dirs` on the disk. Resolves once all of it is; rejects with the I/O error otherwise.
 * `syncfs: false`: file by file however many there are. syncfs writes out everything dirty
 * on the file system, a database's files too: the PostgreSQL store, which commits every few
 * dozen messages, syncs its replies one by one (measured with the cluster on the same file
 * system: a 2,000-message replay 12.7–13.6 s with syncfs per commit, 9.1–9.8 s without).
 * `together`: `place` renames nothing whose data must be on the disk first (no attachment to
 * put in place, only temporary names to keep), so the folders are synced beside the files, in
 * one round of syncs rather than two: on a busy machine each round costs serve's commit 1-3 ms
 * (docs/PERFORMANCE.md).
 */
export async function makeDurable(files: TempFile[], dirs: Set<string>, place: () => void, opts: { syncfs?: boolean; together?: boolean } = {}): Promise<void> {
  if (opts.syncfs !== false && files.length >= SYNCFS_MIN && syncfsWorks !== false && process.platform === 'linux') {
    place();
    if (await syncFileSystems([...dirs])) return;
  }
  const syncFiles = () => Promise.all(files.map((f) => syncPath(f.placed ? f.path : f.tmp, true)));
  if (opts.together) {
    place();
    await Promise.all([syncFiles(), syncDirs(dirs)]);
    return;
  }
  await syncFiles();
  place();
  await syncDirs(dirs);
}

/**
 * syncfs(2) of each file system that holds one of `dirs`, through coreutils' `sync -f` (node
 * has no syncfs). Since Linux 5.8 it reports the write errors of that file system. False when
 * it cannot run (then the caller syncs file by file).
 */
async function syncFileSystems(dirs: string[]): Promise<boolean> {
  const byDevice = new Map<number, string>();
  for (const d of dirs) byDevice.set(statSync(d).dev, d);
  const { spawn } = await import('node:child_process');
  for (const d of byDevice.values()) {
    const ok = await new Promise<boolean>((resolve) => {
      const child = spawn('sync', ['-f', d], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
    if (!ok) { syncfsWorks = false; return false; }
  }
  syncfsWorks = true;
  return true;
}

/**
 * The cross-process lock on the store: proper-lockfile's protocol, without loading it (and
 * graceful-fs, retry and signal-exit with it) at every delivery.
 *
 * The lock is a directory (`<store>.lock`), made with mkdir, which either succeeds or fails
 * atomically. Its holder touches its mtime every `update` ms; a lock whose mtime is older
 * than `stale` ms belongs to a process that died and is taken over. Holders that find their
 * lock's mtime changed or the directory gone call `onCompromised`. The directory is removed
 * on release, on exit, and on SIGINT, SIGTERM and SIGHUP (which are then re-raised). Any
 * process using proper-lockfile with the same options (`realpath: false`, the same
 * `lockfilePath`, `stale`, `update`) and this code exclude each other.
 *
 * A timer alone does not notice in time that the lock was lost: a process stopped (SIGSTOP,
 * a stalled VM) or busy in one long synchronous step past `stale` finds, when it resumes,
 * that another process took the lock over, and it may be about to commit. So `held()` checks
 * synchronously, right before a commit, that the lock directory is still the one this process
 * made (inode) with the mtime it set last (a takeover makes a new directory, whose mtime is
 * at least `stale` later), then refreshes it, so the rename that follows is covered.
 */
import { mkdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';

export interface LockOptions { stale: number; update: number; onCompromised(err: Error): void }

export interface HeldLock {
  /** Removes the lock (when still held). */
  release(): Promise<void>;
  /** Throws (code ECOMPROMISED) unless this process still holds the lock; refreshes it. Synchronous. */
  held(): void;
  /** held(), when the last refresh is `update` ms old or more: cheap enough to call per message. */
  refreshIfDue(): void;
}

/** The stale time m4me's store lock uses: 15 s, or M4ME_LOCK_STALE_MS (for tests; at least 2 s). */
export function staleMs(): number {
  const env = Number(process.env.M4ME_LOCK_STALE_MS);
  return Number.isFinite(env) && env > 0 ? env : 15000;
}

const locked = (path: string) => Object.assign(new Error(`Lock file is already being held: ${path}`), { code: 'ELOCKED', file: path });
const compromised = (message: string, cause?: unknown) =>
  Object.assign(new Error(message), { code: 'ECOMPROMISED', ...(cause ? { cause } : {}) });

/** Locks held by this process, removed when it exits. */
const held = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const onExit = () => { for (const p of held) { try { rmdirSync(p); } catch { /* gone */ } } };
const onSignal = (sig: NodeJS.Signals) => {
  onExit();
  removeHandlers();
  process.kill(process.pid, sig);
};
let handlers = false;
/** Whether a signal removes held locks and ends the process (see `keepSignals`). */
let onSignals = true;
function addHandlers(): void {
  if (handlers) return;
  handlers = true;
  process.on('exit', onExit);
  if (onSignals) for (const s of SIGNALS) process.on(s, onSignal);
}

/**
 * For a process with its own signal handling (`m4me serve`: SIGTERM finishes the commit under
 * way, SIGHUP re-reads the configuration): a signal no longer removes the locks and re-raises
 * itself; the locks are still removed on exit.
 */
export function keepSignals(): void {
  removeHandlers();
  onSignals = false;
  if (held.size) addHandlers();
}
function removeHandlers(): void {
  if (!handlers) return;
  handlers = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Takes the lock `lockPath` or throws (code ELOCKED when another process holds it). */
export function lock(lockPath: string, options: LockOptions): HeldLock {
  // proper-lockfile's bounds: stale at least 2 s, update between 1 s and stale / 2.
  const stale = Math.max(options.stale, 2000);
  const update = Math.max(Math.min(options.update, stale / 2), 1000);
  acquire(lockPath, stale);

  // Whether the file system keeps milliseconds: an mtime just past a whole second tells.
  const probe = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5);
  let mtime: number;
  let ino: number;
  let secondsOnly: boolean;
  try {
    utimesSync(lockPath, probe, probe);
    const st = statSync(lockPath);
    mtime = st.mtimeMs;
    ino = st.ino;
    secondsOnly = Math.floor(mtime) % 1000 === 0;
  } catch (err) {
    try { rmdirSync(lockPath); } catch { /* gone */ }
    throw err;
  }
  held.add(lockPath);
  addHandlers();

  let released = false;
  let lost: Error | null = null;
  let lastUpdate = Date.now();
  let timer: NodeJS.Timeout | null = null;
  const lose = (err: Error): Error => {
    if (lost) return lost;
    lost = err;
    released = true;
    held.delete(lockPath);
    if (timer) { clearTimeout(timer); timer = null; }
    options.onCompromised(err);
    return err;
  };
  const schedule = (delay: number) => {
    timer = setTimeout(refresh, delay);
    timer.unref();
  };
  /** Checks the lock is still ours and sets its mtime to now; returns false on a passing error. */
  const touch = (): boolean => {
    const overdue = () => lastUpdate + stale < Date.now();
    let st;
    try {
      st = statSync(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || overdue()) throw lose(compromised('Lock directory is gone', err));
      return false;
    }
    if (st.ino !== ino || st.mtimeMs !== mtime) throw lose(compromised('Unable to update lock within the stale threshold (another process took it over)'));
    const now = secondsOnly ? Math.ceil(Date.now() / 1000) * 1000 : Date.now();
    try {
      utimesSync(lockPath, new Date(now), new Date(now));
      mtime = statSync(lockPath).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || overdue()) throw lose(compromised('Lock directory is gone', err));
      return false;
    }
    lastUpdate = Date.now();
    return true;
  };
  const refresh = () => {
    timer = null;
    if (released) return;
    let ok: boolean;
    try { ok = touch(); } catch { return; } // lost: onCompromised was called
    schedule(ok ? update : 1000);
  };
  schedule(update);

  const heldNow = () => {
    if (lost) throw lost;
    if (released) throw compromised('Lock was released');
    if (!touch()) {
      // A passing error refreshing it: still ours only while it cannot have gone stale.
      if (lastUpdate + stale / 2 < Date.now()) throw lose(compromised('Unable to update lock within the stale threshold'));
    }
  };
  return {
    held: heldNow,
    refreshIfDue: () => { if (lost || Date.now() - lastUpdate >= update) heldNow(); },
    release: async () => {
      if (released) return;
      released = true;
      if (timer) clearTimeout(timer);
      held.delete(lockPath);
      if (!held.size) removeHandlers();
      try { rmdirSync(lockPath); } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },
  };
}

function acquire(lockPath: string, stale: number): void {
  try {
    mkdirSync(lockPath);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let mtime: number;
  try {
    mtime = statSync(lockPath).mtimeMs;
  } catch (err) {
    // Released in between: one more try, without taking over.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return acquireFresh(lockPath);
    throw err;
  }
  if (mtime >= Date.now() - stale) throw locked(lockPath);
  takeOver(lockPath, stale);
}

/**
 * Replaces a stale lock. Two processes that both saw it stale must not both end up holding
 * it (the second removing the fresh lock the first just made): the takeover itself is done
 * under `<lock>.takeover`, made with mkdir too, and the lock is checked again inside it.
 */
function takeOver(lockPath: string, stale: number): void {
  const guard = `${lockPath}.takeover`;
  try {
    mkdirSync(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A takeover left behind by a process killed in the middle of one (it takes microseconds).
    try { if (statSync(guard).mtimeMs < Date.now() - stale) rmdirSync(guard); } catch { /* gone */ }
    throw locked(lockPath);
  }
  try {
    let mtime: number | null = null;
    try { mtime = statSync(lockPath).mtimeMs; } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (mtime !== null) {
      if (mtime >= Date.now() - stale) throw locked(lockPath); // taken over by another process meanwhile
      try { rmdirSync(lockPath); } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    acquireFresh(lockPath);
  } finally {
    try { rmdirSync(guard); } catch { /* gone */ }
  }
}

function acquireFresh(lockPath: string): void {
  try {
    mkdirSync(lockPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw locked(lockPath);
    throw err;
  }
}

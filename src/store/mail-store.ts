/**
 * The store as `m4me process` drives it, whichever store it is (CONTRACT §7): open it, let
 * it decide and apply one message, commit, close. The engine stays pure: `deliver` calls
 * `decide(email, view, policy, clock)` on a `StoreView` and applies the `Decision`.
 *
 * - The JSON file store (./store.ts) decides against its in-memory index and applies in
 *   memory; `commit` writes the file (a batch commits every few thousand messages).
 * - The PostgreSQL store (./pg/store.ts) decides, loads what the decision looked up and it
 *   did not hold, decides again, and applies each message in its own transaction inside
 *   `deliver`: `commit` has nothing left to do.
 */
import { decide } from '../engine/pipeline.js';
import type { Clock, Decision, Policy } from '../engine/types.js';
import type { InboundEmail } from '../mail/types.js';
import { isPgUrl } from './pg/url.js';
import { type StorePaths, Store } from './store.js';

export interface DeliverOptions {
  /** false: a dry run (decide, change nothing). */
  persist: boolean;
  /** For the delivery log. */
  about?: { from: string | null; subject: string };
  /** The run's own warnings about this message (--clock message), added to the decision before it is applied and logged. */
  warnings?: string[];
}

export interface MailStore {
  /** Folder of attachment files as notes name it (relative to the store's folder), for Policy.filesDir. */
  readonly filesDir: string | null;
  /** Decides one message for one recipient and applies the decision (unless a dry run). */
  deliver(email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision>;
  /** Makes every change since the last commit durable. */
  commit(): Promise<void>;
  /** Closes the store (releases its lock or connections); changes not committed are dropped. */
  close(): Promise<void>;
  /** A team's name, for the human output. */
  teamName(id: number): string | undefined;
  /** Where the last `deliver` spent its time (ms): deciding, and applying. */
  readonly lastTimes: { decide: number; store: number };
}

/** The JSON file store behind the MailStore interface, unchanged. */
export class FileMailStore implements MailStore {
  readonly filesDir = null;
  lastTimes = { decide: 0, store: 0 };
  private constructor(readonly store: Store) {}

  static async open(paths: StorePaths, opts: { lock: boolean; lockTimeoutMs: number }): Promise<FileMailStore> {
    return new FileMailStore(await Store.open(paths, opts));
  }

  async deliver(email: InboundEmail, policy: Policy, clock: Clock, opts: DeliverOptions): Promise<Decision> {
    const t0 = performance.now();
    const decision = decide(email, this.store.index, policy, clock);
    decision.warnings.push(...(opts.warnings ?? []));
    const t1 = performance.now();
    await this.store.apply(decision, opts.persist, opts.about);
    this.lastTimes = { decide: t1 - t0, store: performance.now() - t1 };
    return decision;
  }

  commit(): Promise<void> { return this.store.checkpoint(); }
  close(): Promise<void> { return this.store.release(); }
  teamName(id: number): string | undefined { return this.store.index.team(id)?.name; }
}

/** Opens the store a configuration names: a file, or a postgres:// URL. */
export async function openMailStore(
  store: string, paths: StorePaths, opts: { lock: boolean; lockTimeoutMs: number },
): Promise<MailStore> {
  if (isPgUrl(store)) {
    const { PgStore } = await import('./pg/store.js');
    return PgStore.open(store, { outbox: paths.outbox, dryRun: !opts.lock });
  }
  return FileMailStore.open(paths, opts);
}

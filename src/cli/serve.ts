/**
 * `m4me serve --lmtp ADDR`: a long-running LMTP server (CONTRACT §8) on either store.
 *
 * Each message is processed exactly as `process --sender FROM --recipient R...` would: parsed
 * once, decided for each envelope recipient in RCPT order, applied, committed. The store stays
 * open and indexed between messages; the lock is taken per commit, or kept for the next one
 * while messages wait for it (at most KEEP_LOCK_MS), so `process`, `import`, `outbox --send`
 * run beside it; a store another process changed is read again before the next decision
 * (Store.beginCommit).
 *
 * Group commit: messages whose DATA ends while a commit runs wait; the next commit takes them
 * all, decides them in turn (a message decided later sees the earlier ones: a repeat is a
 * duplicate), applies them and writes the store once (Store.checkpoint: files and store
 * synced). Each message is answered after its group's commit, never before: a 250 is on disk.
 * A commit that fails answers every message of its group with the temporary status (nothing
 * of the group is in the store; the mail server retries, the ledger makes a retry of what did
 * get in a duplicate).
 *
 * On the JSON store a commit appends the group's changes to the journal beside the store
 * (`<store>.journal`, ../store/journal.ts) and syncs that, instead of rewriting the whole
 * file; every reader applies the journal, so a 250 is visible at once. The journal is
 * folded into the file (the file written whole, then the journal removed) once it passes
 * `foldLimit`, after FOLD_IDLE_MS without a commit (so the file is current soon after a
 * burst), and at SIGTERM; any other writer (`process`, `import`, ...) folds it too.
 *
 * A PostgreSQL store (CONTRACT §7) groups the same way: the group's messages are applied in
 * one transaction, each in its own savepoint (./pg/store.ts), and committed once; a message
 * that fails is deferred alone, a commit that fails defers the group.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { decide } from '../engine/pipeline.js';
import type { Clock, Policy } from '../engine/types.js';
import { type LmtpMessage, type LmtpReply, LmtpServer, parseListen } from '../input/lmtp.js';
import { parseEmail, UnreadableMessageError } from '../mail/parse.js';
import type { InboundEmail } from '../mail/types.js';
import { describeIoError, ioStatus, TempFailure } from '../store/errors.js';
import { keepSignals } from '../store/lock.js';
import { type MailStore, openMailStore } from '../store/mail-store.js';
import { isPgUrl, redactUrl } from '../store/pg/url.js';
import { atomicWrite, defaultPaths, Store } from '../store/store.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';
import { parseNow, policyOf, type QuarantineMeta, quarantineMetaPath } from './process.js';
import { resultOf, type Result } from './result.js';
import { printable } from './terminal.js';

export interface ServeOptions {
  lmtp: string;
  config?: string;
  store?: string;
  listenAny?: boolean;
  maxConnections?: string;
  idleTimeout?: string;
  dataTimeout?: string;
  now?: string;
}

const positive = (name: string, value: string | undefined, dflt: number): number => {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name}: expected a positive whole number, got "${value}"`);
  return n;
};

const log = (line: string) => { process.stderr.write(`m4me serve: ${printable(line)}\n`); };

/** Milliseconds from the environment (tests), else `dflt`. */
const envMs = (name: string, dflt: number) => { const n = Number(process.env[name]); return Number.isFinite(n) && n > 0 ? n : dflt; };

/**
 * The JSON store's lock is kept from one commit to the next while messages are waiting, at most
 * this long (it is let go whenever the queue runs dry), so `process`, `import` and
 * `outbox --send` beside a storm wait about this long at most. Measured in docs/PERFORMANCE.md.
 */
const KEEP_LOCK_MS = 2000;
/**
 * After letting the lock go under load, serve waits this long before it takes it again: longer
 * than a waiting m4me process sleeps between two tries (5-50 ms, Store.lock), so one gets in.
 */
const LOCK_TURN_MS = 60;
/** After this long without a commit the journal is folded into the store file. */
const FOLD_IDLE_MS = envMs('M4ME_JOURNAL_IDLE_MS', 1000);

/**
 * A journal this large is folded at once: half the store file (so folding costs each
 * message about as much whatever the store's size), at least 1 MiB, at most 64 MiB (what
 * every reader beside serve parses on top of the file).
 */
function foldLimit(storeFile: string): number {
  const env = Number(process.env.M4ME_JOURNAL_MAX_BYTES);
  if (Number.isFinite(env) && env > 0) return env;
  let size = 0;
  try { size = statSync(storeFile).size; } catch { /* its commit reports it */ }
  return Math.min(64 << 20, Math.max(1 << 20, size / 2));
}

/** The one line for a configuration that cannot be used at start: exit 78. */
class StartError extends Error {}


async function readConfig(opts: ServeOptions): Promise<Config> {
  let config: Config;
  try {
    config = await loadConfig({ configFile: opts.config, store: opts.store });
  } catch (err) {
    if (err instanceof ConfigError) throw new StartError(`4.3.5 m4me: invalid configuration: ${err.message} (m4me check-config lists every problem)`);
    throw err;
  }
  return config;
}

interface Job { message: LmtpMessage; email: InboundEmail; resolve(replies: LmtpReply[]): void }

/**
 * serve is its own module beside the bundled CLI (a delivery does not load smtp-server), so
 * its errors are not the bundle's classes: the lines main.ts would print are printed here.
 */
export async function runServe(opts: ServeOptions): Promise<number> {
  try {
    return await serveLmtp(opts);
  } catch (err) {
    if (err instanceof UsageError) { process.stderr.write(`5.5.4 m4me: ${err.message}\n`); return EX.USAGE; }
    if (err instanceof TempFailure) { process.stderr.write(`${err.status} m4me: ${err.message}\n`); return EX.TEMPFAIL; }
    throw err;
  }
}

async function serveLmtp(opts: ServeOptions): Promise<number> {
  let listen;
  try {
    listen = parseListen(opts.lmtp, opts.listenAny ?? false);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const fixedNow = parseNow(opts.now);
  const maxConnections = positive('--max-connections', opts.maxConnections, 32);
  const idleTimeoutMs = positive('--idle-timeout', opts.idleTimeout, 300) * 1000;
  const dataTimeoutMs = positive('--data-timeout', opts.dataTimeout, 600) * 1000;

  let config: Config;
  let store: Store;
  /** A PostgreSQL store (then `store` is not used). */
  let pg: MailStore | null = null;
  try {
    config = await readConfig(opts);
    try {
      if (isPgUrl(config.store)) {
        pg = await openMailStore(config.store, defaultPaths(config.store, config.outbox), { lock: true, lockTimeoutMs: config.lockTimeoutMs });
        store = null as unknown as Store;
      } else {
        store = await Store.open(defaultPaths(config.store, config.outbox), { lock: false, lockTimeoutMs: config.lockTimeoutMs });
        store.useJournal();
      }
    } catch (err) {
      if (err instanceof TempFailure) throw new StartError(`${err.status} m4me: ${err.message}`);
      throw err;
    }
  } catch (err) {
    if (err instanceof StartError) { process.stderr.write(`${err.message}\n`); return EX.CONFIG; }
    throw err;
  }
  // SIGTERM during a commit finishes the commit: the lock is not to be dropped under it.
  keepSignals();
  const policyFor = (c: Config): Omit<Policy, 'envelopeRecipient'> => {
    const p = policyOf(c, { replies: 'queue', reprocess: false });
    return pg?.filesDir ? { ...p, filesDir: pg.filesDir } : p;
  };
  let policy = policyFor(config);

  const queue: Job[] = [];
  let committing: Promise<void> | null = null;
  let stopping = false;
  let idleTimer: NodeJS.Timeout | null = null;
  /** When the JSON store's lock was last taken (it may be kept across commits: commitGroup). */
  let lockedSince = 0;
  /** The lock was let go for others under load: the next commit waits LOCK_TURN_MS first. */
  let turnDue = false;

  const quarantine = async (m: LmtpMessage, status: string, reason: string): Promise<string> => {
    const at = new Date(fixedNow ?? Date.now());
    const name = `${at.toISOString().replace(/[^0-9]/g, '').slice(0, 14)}-${createHash('sha256').update(m.raw).digest('hex').slice(0, 16)}.eml`;
    const path = join(config.quarantine, name);
    try {
      await mkdir(config.quarantine, { recursive: true });
      await atomicWrite(path, m.raw);
      const meta: QuarantineMeta = {
        input: `lmtp:${m.id}`, quarantined_at: at.toISOString(), status, reason,
        recipients: m.recipients, sender: m.sender, bytes: m.raw.length,
      };
      await atomicWrite(quarantineMetaPath(path), `${JSON.stringify(meta)}\n`);
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot save unreadable message to quarantine ${config.quarantine}: ${describeIoError(err)}`);
    }
    return path;
  };

  const logDelivery = (m: LmtpMessage, to: string, what: string) => {
    log(`${m.id} from=<${m.sender}> to=<${to}> ${what} ms=${Date.now() - m.receivedAt}`);
  };

  const tempReply = (err: unknown): LmtpReply => {
    const status = err instanceof TempFailure ? err.status : '4.3.0';
    const text = err instanceof TempFailure ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
    return { code: status === '4.3.1' ? 452 : 451, text: `${status} ${text}` };
  };

  /** A group whose commit did not happen: every recipient of every message gets the temporary status. */
  const deferAll = (group: Job[], err: unknown): void => {
    const r = tempReply(err);
    for (const job of group) {
      for (const to of job.message.recipients) logDelivery(job.message, to, `status=${r.text.split(' ')[0]} deferred: ${r.text}`);
      job.resolve(job.message.recipients.map(() => r));
    }
  };

  /** One commit: every job waiting, decided in turn, applied, written once; then answered. */
  const commitGroup = async (group: Job[]): Promise<void> => {
    const results: Result[][] = [];
    try {
      const { kept } = await store.beginCommit(config.lockTimeoutMs);
      if (!kept) lockedSince = performance.now();
    } catch (err) {
      deferAll(group, err);
      return;
    }
    try {
      for (const job of group) {
        const clock: Clock = { now: fixedNow ?? Date.now(), tick: () => performance.now() };
        const out: Result[] = [];
        // A recipient given twice is processed once (as process --recipient does), answered twice.
        const byRecipient = new Map<string, Result>();
        for (const envelopeRecipient of job.message.recipients) {
          let r = byRecipient.get(envelopeRecipient);
          if (!r) {
            const decision = decide(job.email, store.index, { ...policy, envelopeRecipient }, clock);
            await store.apply(decision, true, { from: job.email.from?.address ?? null, subject: job.email.subject });
            r = resultOf(`lmtp:${job.message.id}`, job.email.messageId, decision, false);
            byRecipient.set(envelopeRecipient, r);
          }
          out.push(r);
        }
        results.push(out);
      }
      await store.checkpoint();
    } catch (err) {
      deferAll(group, err);
      return;
    } finally {
      // Messages already waiting are committed next under the same lock (no mkdir, rmdir and
      // store checks in between), for at most KEEP_LOCK_MS at a time.
      const keepLock = queue.length > 0 && performance.now() - lockedSince < KEEP_LOCK_MS;
      // Let go after KEEP_LOCK_MS with messages still waiting: the next commit waits its turn.
      turnDue = queue.length > 0 && !keepLock;
      await store.endCommit({ keepLock });
    }
    group.forEach((job, i) => {
      const replies = results[i]!.map((r, k) => {
        const rec = r.record ? `${r.record.type} ${r.record.id}` : 'no record';
        logDelivery(job.message, job.message.recipients[k]!, `outcome=${r.outcome} rule=${r.rule} record=${r.record ? `${r.record.type}/${r.record.id}` : '-'} group=${group.length}`);
        return { code: 250, text: `2.0.0 ${r.outcome} ${rec} (${r.rule})` };
      });
      job.resolve(replies);
    });
  };

  /**
   * PostgreSQL: every job waiting, decided and applied in turn in the store's transaction
   * (each message in a savepoint: one that fails is deferred alone), committed once; then
   * answered. A commit that fails defers every recipient the group would have answered 250.
   */
  const commitPg = async (group: Job[]): Promise<void> => {
    const answers: { reply: LmtpReply; log: string }[][] = [];
    for (const job of group) {
      // A recipient given twice is processed once (as process --recipient does), answered twice.
      const byRecipient = new Map<string, { reply: LmtpReply; log: string }>();
      const list: { reply: LmtpReply; log: string }[] = [];
      for (const envelopeRecipient of job.message.recipients) {
        let answer = byRecipient.get(envelopeRecipient);
        if (!answer) {
          try {
            const clock: Clock = { now: fixedNow ?? Date.now(), tick: () => performance.now() };
            const d = await pg!.deliver(job.email, { ...policy, envelopeRecipient }, clock,
              { persist: true, about: { from: job.email.from?.address ?? null, subject: job.email.subject } });
            const rec = d.record ? `${d.record.type} ${d.record.id}` : 'no record';
            answer = {
              reply: { code: 250, text: `2.0.0 ${d.outcome} ${rec} (${d.rule})` },
              log: `outcome=${d.outcome} rule=${d.rule} record=${d.record ? `${d.record.type}/${d.record.id}` : '-'} group=${group.length}`,
            };
          } catch (err) {
            const reply = tempReply(err);
            answer = { reply, log: `status=${reply.text.split(' ')[0]} deferred: ${reply.text}` };
          }
          byRecipient.set(envelopeRecipient, answer);
        }
        list.push(answer);
      }
      answers.push(list);
    }
    try {
      await pg!.commit();
    } catch (err) {
      const reply = tempReply(err);
      for (const list of answers) {
        for (const [k, a] of list.entries()) if (a.reply.code === 250) list[k] = { reply, log: `status=${reply.text.split(' ')[0]} deferred: ${reply.text}` };
      }
    }
    group.forEach((job, i) => {
      answers[i]!.forEach((a, k) => logDelivery(job.message, job.message.recipients[k]!, a.log));
      job.resolve(answers[i]!.map((a) => a.reply));
    });
  };

  /**
   * The journal written into the store file, under the lock (as a commit: messages arriving
   * meanwhile wait). A lock not had in time or a write that fails leaves the journal as it
   * is: every commit in it stays on disk and visible; the fold is tried again later.
   */
  const foldJournal = async (why: string): Promise<void> => {
    // The group just answered: its replies go out before the fold takes the thread.
    await new Promise((r) => setImmediate(r));
    try {
      await store.beginCommit(Math.min(config.lockTimeoutMs, 1000));
    } catch (err) {
      log(`journal not folded (${why}): ${(err as Error).message}`);
      return;
    }
    try {
      store.fold();
    } catch (err) {
      log(`journal not folded (${why}): ${(err as Error).message}; every commit stays in the journal`);
    } finally {
      await store.endCommit();
    }
  };

  const armIdleFold = () => {
    if (pg || stopping || idleTimer || !store.journalBytes) return;
    idleTimer = setTimeout(() => {
      idleTimer = null;
      if (committing || stopping) return; // the commit under way arms it again
      committing = (async () => {
        await foldJournal('idle');
        committing = null;
        if (queue.length) committing = runCommits();
        else armIdleFold(); // not folded (lock busy): again later
      })();
    }, FOLD_IDLE_MS);
  };

  const runCommits = async () => {
    if (idleTimer) { clearTimeout(idleTimer); idleTimer = null; }
    while (queue.length) {
      await (pg ? commitPg(queue.splice(0)) : commitGroup(queue.splice(0)));
      if (turnDue) {
        turnDue = false;
        await new Promise((r) => setTimeout(r, LOCK_TURN_MS));
      }
      if (!pg && store.journalBytes >= foldLimit(store.filePath)) await foldJournal('journal full');
    }
    committing = null;
    armIdleFold();
  };

  const deliver = async (m: LmtpMessage): Promise<LmtpReply[]> => {
    let email: InboundEmail;
    try {
      email = await parseEmail(m.raw, m.sender);
    } catch (err) {
      const why = err instanceof UnreadableMessageError ? err.message : `MIME parser: ${(err as Error)?.message ?? String(err)}`;
      const message = `message could not be read as email: ${why}`;
      let r: LmtpReply;
      try {
        const saved = await quarantine(m, '5.6.0', message);
        r = { code: 554, text: `5.6.0 ${message} (quarantined as ${basename(saved)})` };
        for (const to of m.recipients) logDelivery(m, to, `outcome=failed rule=failed.unreadable record=- quarantined=${basename(saved)}`);
      } catch (qErr) {
        r = tempReply(qErr);
        for (const to of m.recipients) logDelivery(m, to, `status=${r.text.split(' ')[0]} deferred: ${r.text}`);
      }
      return m.recipients.map(() => r);
    }
    return new Promise<LmtpReply[]>((resolve) => {
      queue.push({ message: m, email, resolve });
      committing ??= runCommits();
    });
  };

  const server = new LmtpServer({
    listen, maxBytes: config.maxMessageBytes, maxConnections, idleTimeoutMs, dataTimeoutMs,
    checkRecipient: (address) => {
      const target = Object.hasOwn(policy.aliases, address) ? policy.aliases[address]! : address;
      const at = target.lastIndexOf('@');
      if (at > 0 && policy.mailDomains.includes(target.slice(at + 1))) return null;
      return { code: 550, text: `5.1.1 ${address} is not an address of this mail system (mailDomain: ${policy.mailDomains.join(', ')}; or an alias)` };
    },
    deliver,
    aborted: (id, why) => log(`${id} aborted: ${why}`),
  });
  let where: string;
  try {
    where = await server.start();
  } catch (err) {
    await (pg ? pg.close() : store.release());
    process.stderr.write(`4.3.5 m4me: serve: cannot listen on ${opts.lmtp}: ${(err as Error).message}\n`);
    return EX.CONFIG;
  }
  return new Promise<number>((resolve) => {
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`${sig}: stopping (finishing the messages in flight)`);
      await server.stop();
      while (committing) await committing;
      if (idleTimer) { clearTimeout(idleTimer); idleTimer = null; }
      // Under the lock once more: the journal folded, so the store file is the whole store,
      // and release saves the index of a large store for the next process (best effort: a
      // store locked by someone else is left to them, the journal with it, all of it on disk).
      if (pg) {
        await pg.close();
      } else {
        const locked = await store.beginCommit(Math.min(config.lockTimeoutMs, 2000)).then(() => true, (err: Error) => {
          log(`journal not folded: ${err.message}; every commit stays in the journal`);
          return false;
        });
        if (locked) {
          try { store.fold(); } catch (err) { log(`journal not folded: ${(err as Error).message}; every commit stays in the journal`); }
        }
        await store.release();
      }
      log('stopped');
      for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.removeAllListeners(s);
      resolve(EX.OK);
    };
    const reload = async () => {
      try {
        const next = await readConfig(opts);
        if (next.store !== config.store) {
          log(`SIGHUP: configuration refused, the old one is kept: the store changed (${next.store}); restart to change it`);
          return;
        }
        config = next;
        policy = policyFor(next);
        server.maxBytes = next.maxMessageBytes;
        log(`SIGHUP: configuration read again${next.file ? ` from ${next.file}` : ''}`);
      } catch (err) {
        const why = err instanceof StartError ? err.message : (err as Error)?.message ?? String(err);
        log(`SIGHUP: configuration refused, the old one is kept: ${why}`);
      }
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => void reload());
    // A journal left by the last run (killed) is folded soon too, not at the first commit.
    armIdleFold();
    // Last: whoever waits for this line may signal at once.
    log(`listening on ${where}, store ${isPgUrl(config.store) ? redactUrl(config.store) : config.store}`);
  });
}

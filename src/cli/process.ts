import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { Clock, Policy } from '../engine/types.js';
import { readAhead } from '../input/ahead.js';
import { InputError, readInputs } from '../input/sources.js';
import type { RawMessage } from '../input/types.js';
import { parseEmail, UnreadableMessageError } from '../mail/parse.js';
import { ParsePool } from '../mail/parse-pool.js';
import type { InboundEmail } from '../mail/types.js';
import { describeIoError, ioStatus, TempFailure } from '../store/errors.js';
import { folderMode } from '../store/durable.js';
import { type MailStore, openMailStore } from '../store/mail-store.js';
import { atomicWrite, defaultPaths } from '../store/store.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';
import { Progress, StageTimes } from './progress.js';
import { failedResult, resultOf, type Result } from './result.js';
import { Utf8Chunks } from '../store/utf8-chunks.js';

/** What is kept beside a quarantined message (`<name>.json` beside `<name>.eml`). */
export interface QuarantineMeta {
  input: string; quarantined_at: string; status: string; reason: string;
  recipients: string[]; sender: string | null; bytes: number;
}
export const quarantineMetaPath = (eml: string) => eml.replace(/\.eml$/, '.json');

export interface ProcessOptions {
  store?: string;
  config?: string;
  recipient: string[];
  sender?: string;
  dryRun: boolean;
  explain: boolean;
  json: boolean;
  now?: string;
  clock?: string;
  quiet: boolean;
  verbose?: boolean;
  reprocess?: boolean;
  /** Whether automatic replies are written to the outbox; default queue, none with --clock message. */
  replies?: 'queue' | 'none';
  /** `m4me quarantine retry` runs a quarantined message again: a second failure leaves it where it is. */
  fromQuarantine?: boolean;
}

/** How far a batch reads (and parses) ahead of the message being decided. */
const AHEAD_MESSAGES = 512;
const AHEAD_BYTES = 32 << 20;

const OUTPUT_CHUNK = 256 << 10;

/** Checkpoint (atomic write of the store) at least this often in a batch. */
const CHECKPOINT_MESSAGES = 2000;
const CHECKPOINT_MS = 5000;

export function parseNow(now: string | undefined): number | null {
  if (now === undefined) return null;
  // Require a date and time with an offset (or Z), so a replay never depends on the local zone.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/i.test(now.trim())) {
    throw new UsageError(`--now: expected an ISO 8601 date and time with offset, e.g. 2026-03-02T09:00:00+00:00, got "${now}"`);
  }
  const ms = Date.parse(now.trim());
  if (Number.isNaN(ms)) throw new UsageError(`--now: not a valid date: "${now}"`);
  return ms;
}

const EARLIEST_DATE = Date.UTC(1990, 0, 1);
const DAY_MS = 86_400_000;

/**
 * A message's Date is written by its sender: one far ahead would hold event matching and the
 * reply limits in the future, one before 1990 is a broken clock. Why it is refused, or null.
 */
function dateOutOfRange(ms: number): string | null {
  if (ms > Date.now() + DAY_MS) return 'more than a day ahead of the system clock';
  if (ms < EARLIEST_DATE) return 'before 1990';
  return null;
}

/** What decisions read from the configuration (CONTRACT §2), for every recipient alike: `process` and `serve`. */
export function policyOf(config: Config, run: Pick<Policy, 'replies' | 'reprocess'>): Omit<Policy, 'envelopeRecipient'> {
  const paths = defaultPaths(config.store, config.outbox);
  return {
    mailDomains: config.mailDomains, aliases: config.aliases, trustedAuthservIds: config.trustedAuthservIds,
    acknowledgements: config.acknowledgements, maxAutoRepliesPerDay: config.maxAutoRepliesPerDay,
    maxAttachments: config.maxAttachments, replies: run.replies, reprocess: run.reprocess, parameterTrust: config.parameterTrust,
    filesDir: relative(dirname(paths.store), paths.files) || basename(paths.files),
  };
}

export async function runProcess(inputs: string[], opts: ProcessOptions): Promise<number> {
  const fixedNow = parseNow(opts.now);
  if (opts.clock !== undefined && opts.clock !== 'message' && opts.clock !== 'system') {
    throw new UsageError(`--clock: expected "message" or "system", got "${opts.clock}"`);
  }
  let config: Config;
  try {
    config = await loadConfig({ configFile: opts.config, store: opts.store });
  } catch (err) {
    if (err instanceof ConfigError) throw new TempFailure('4.3.5', `invalid configuration: ${err.message}`);
    throw err;
  }
  const paths = defaultPaths(config.store, config.outbox);
  const envelopeRecipients = [...new Set(
    (opts.recipient.length ? opts.recipient : [process.env.ORIGINAL_RECIPIENT ?? process.env.RECIPIENT ?? ''])
      .map((r) => r.trim().toLowerCase()).filter(Boolean),
  )];
  const envelopeSender = opts.sender ?? process.env.SENDER;
  const basePolicy = policyOf(config, {
    // A replay of old mail would answer people about messages they sent months ago.
    replies: opts.replies ?? (opts.clock === 'message' ? 'none' : 'queue'),
    reprocess: opts.reprocess ?? false,
  });
  let store: MailStore | null = null;
  const out = await Output.create(opts, (id) => (store as MailStore | null)?.teamName(id));
  let count = 0;
  let failed = 0;
  let lastFailure = '';
  let sinceCheckpoint = 0;
  let lastCheckpoint = Date.now();
  const started = Date.now();

  const quarantine = async (raw: RawMessage, status: string, reason: string): Promise<string> => {
    // Named by the run's clock (--now when given), so a replay names its files the same way.
    const name = `${new Date(fixedNow ?? Date.now()).toISOString().replace(/[^0-9]/g, '').slice(0, 14)}-${createHash('sha256').update(raw.raw).digest('hex').slice(0, 16)}.eml`;
    const path = join(config.quarantine, name);
    try {
      await mkdir(config.quarantine, { recursive: true, mode: folderMode() });
      await atomicWrite(path, raw.raw);
      // Beside it, what `m4me quarantine list` shows and `retry` needs: the envelope is not in the bytes.
      const meta: QuarantineMeta = {
        input: raw.input, quarantined_at: new Date(fixedNow ?? Date.now()).toISOString(), status, reason,
        recipients: envelopeRecipients, sender: envelopeSender ?? raw.envelopeFrom ?? null, bytes: raw.raw.length,
      };
      await atomicWrite(quarantineMetaPath(path), `${JSON.stringify(meta)}\n`);
    } catch (err) {
      throw new TempFailure(ioStatus(err), `cannot save unreadable message to quarantine ${config.quarantine}: ${describeIoError(err)}`);
    }
    return path;
  };

  const fail = async (raw: RawMessage, rule: string, status: string, message: string): Promise<Result> => {
    failed++;
    lastFailure = `${status} ${message}`;
    const saved = opts.dryRun || opts.fromQuarantine ? null : await quarantine(raw, status, message);
    return failedResult(raw.input, rule, status, message, saved, opts.dryRun);
  };

  const times = new StageTimes();
  const progress = await Progress.create(!opts.quiet, inputs);
  out.around = progress;
  let bytes = 0;

  const handle = async (raw: RawMessage): Promise<Result[]> => {
    if (raw.raw.length > config.maxMessageBytes) {
      return [await fail(raw, 'failed.too_large', '5.3.4', `message of ${raw.raw.length} bytes is larger than maxMessageBytes ${config.maxMessageBytes}`)];
    }
    let email: InboundEmail;
    try {
      const t0 = performance.now();
      const sender = envelopeSender ?? raw.envelopeFrom ?? null;
      email = await ((pool as ParsePool | null)?.take(raw, raw.raw, sender) ?? parseEmail(raw.raw, sender));
      times.add('parse', performance.now() - t0);
    } catch (err) {
      const why = err instanceof UnreadableMessageError ? err.message : `MIME parser: ${(err as Error)?.message ?? String(err)}`;
      return [await fail(raw, 'failed.unreadable', '5.6.0', `message could not be read as email: ${why}`)];
    }
    const clockWarnings: string[] = [];
    let now = fixedNow ?? Date.now();
    if (opts.clock === 'message') {
      const refused = email.date ? dateOutOfRange(Date.parse(email.date)) : 'missing';
      if (!refused) now = Date.parse(email.date!);
      else if (refused === 'missing') clockWarnings.push('--clock message: the message has no valid Date header, the current time was used');
      else clockWarnings.push(`--clock message: the Date ${email.date} is ${refused}, the current time was used`);
    }
    const clock: Clock = { now, tick: () => performance.now() };
    store ??= await openMailStore(config.store, paths, { lock: !opts.dryRun, lockTimeoutMs: config.lockTimeoutMs });
    const results: Result[] = [];
    for (const envelopeRecipient of envelopeRecipients.length ? envelopeRecipients : [null]) {
      const t1 = performance.now();
      const policy = { ...basePolicy, envelopeRecipient, filesDir: store.filesDir ?? basePolicy.filesDir };
      // The JSON store decides, then applies in memory; PostgreSQL decides and applies in one
      // transaction (deciding again under its locks).
      const decision = await store.deliver(email, policy, clock, {
        persist: !opts.dryRun, about: { from: email.from?.address ?? null, subject: email.subject }, warnings: clockWarnings,
      });
      times.add('decide', store.lastTimes.decide);
      times.add('store', performance.now() - t1 - store.lastTimes.decide);
      times.rule(decision.trace, decision.traceMs);
      out.replies += decision.outgoing.length;
      results.push(resultOf(raw.input, email.messageId, decision, opts.dryRun));
    }
    return results;
  };

  // From the second message on (a batch), messages read ahead are parsed in a worker thread
  // while the main thread decides earlier ones (and parses those no worker got to): parsing
  // and deciding run on two cores. The first message (a single delivery) is parsed here,
  // without starting any thread (the pool's module is imported with the rest of the bundle;
  // its threads start with the second message).
  let pool: ParsePool | null = null;
  // Started by local(8) from an alias: standard input is exactly one message.
  const stdinIsOneMessage = Boolean(process.env.ORIGINAL_RECIPIENT || process.env.RECIPIENT);
  const messages = readAhead(readInputs(inputs, { stdin: process.stdin, stdinIsOneMessage }), {
    maxItems: AHEAD_MESSAGES, maxBytes: AHEAD_BYTES, size: (raw) => raw.raw.length,
    started: (raw, index) => {
      if (index === 0 || raw.raw.length > config.maxMessageBytes) return;
      const sender = envelopeSender ?? raw.envelopeFrom ?? null;
      (pool ??= new ParsePool()).offer(raw, raw.raw, sender);
    },
    abort: inputs.length === 0 || inputs.includes('-') ? () => process.stdin.destroy() : undefined,
  });

  // A result is printed only once the store change it reports is committed (on the disk):
  // a run that ends in 75 never printed request_created for a message the MTA will retry.
  const commit = async () => {
    await (store as MailStore | null)?.commit();
    await out.commit();
  };
  let finished = false;
  try {
    for await (const raw of messages) {
      count++;
      bytes += raw.raw.length;
      const t = performance.now();
      for (const r of await handle(raw)) out.result(r);
      out.messages++;
      times.message(raw.input, performance.now() - t);
      await progress?.update(count, bytes);
      if (++sinceCheckpoint >= CHECKPOINT_MESSAGES || Date.now() - lastCheckpoint >= CHECKPOINT_MS) {
        await commit();
        sinceCheckpoint = 0;
        lastCheckpoint = Date.now();
      }
    }
    await commit();
    finished = true;
  } catch (err) {
    if (err instanceof InputError) throw new UsageError(err.message);
    throw err;
  } finally {
    progress?.stop();
    await (pool as ParsePool | null)?.close();
    await (store as MailStore | null)?.close();
    if (finished) await out.end((Date.now() - started) / 1000, times);
  }
  // A single delivery that could not be read bounces (65); in a batch the summary counts it.
  if (count === 1 && failed === 1) {
    process.stderr.write(`${lastFailure.replace(' ', ' m4me: ')}\n`); // the one line Postfix puts in the bounce
    return EX.DATAERR;
  }
  return EX.OK;
}

/** Writes results in input order: JSON Lines, or the human rendering (with a summary for batches). */
class Output {
  /** Full chunks waiting for the commit of the changes they report. */
  private sealed: Buffer[] = [];
  /** Results are encoded straight into a chunk (no joined string to encode again), a new one per write. */
  private chunks = new Utf8Chunks(Buffer.allocUnsafe(OUTPUT_CHUNK), (b) => this.sealed.push(b), true);
  private counts: Record<string, number> = {};
  private total = 0;
  /** Messages read (a message for two --recipient addresses gives two results). */
  messages = 0;
  /** Automatic replies queued (or, in a dry run, that would be). */
  replies = 0;
  private constructor(
    private opts: ProcessOptions,
    private render: ((r: Result) => string) | null,
    private summary: ((c: Record<string, number>, n: number, s: number, t?: StageTimes) => string) | null,
  ) {}

  /** `teamName` resolves team IDs for the human rendering, once the store is open. */
  static async create(opts: ProcessOptions, teamName: (id: number) => string | undefined): Promise<Output> {
    if (opts.json) return new Output(opts, null, null);
    const { renderResult, renderSummary } = await import('./render.js');
    const name = (id: number | null) => (id === null ? null : teamName(id) ?? `#${id}`);
    return new Output(opts, (r) => renderResult(r, opts.explain, name), renderSummary);
  }

  /** Adds a result; it is printed by the next `commit`. */
  result(r: Result): void {
    this.total++;
    this.counts[r.outcome] = (this.counts[r.outcome] ?? 0) + 1;
    this.chunks.text(`${this.render ? this.render(r) : JSON.stringify(r)}\n`);
  }

  /** Prints every result added so far: their changes are committed. */
  async commit(): Promise<void> {
    this.chunks.flush();
    const ready = this.sealed;
    this.sealed = [];
    for (const b of ready) await this.write(b);
  }

  private async write(data: Buffer | string): Promise<void> {
    // The reader went away (EPIPE, see main.ts): the work goes on without output.
    if (process.stdout.destroyed) return;
    this.around?.before();
    const ok = process.stdout.write(data);
    this.around?.after();
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => { process.stdout.off('drain', done); process.stdout.off('close', done); resolve(); };
        process.stdout.once('drain', done);
        process.stdout.once('close', done);
      });
    }
  }

  /** Set by the spinner, so results and the spinner line never mix on a terminal. */
  around: { before(): void; after(): void } | null = null;

  /** The summary goes to stderr: stdout holds the results alone, to pipe or page. */
  async end(seconds: number, times: StageTimes): Promise<void> {
    await this.commit();
    if (!this.summary || this.opts.quiet) return;
    if (this.total > 1) {
      const replies = this.opts.replies === 'none' || (this.opts.replies === undefined && this.opts.clock === 'message')
        ? 'automatic replies: none (--replies none)'
        : `automatic replies: ${this.replies} ${this.opts.dryRun ? 'would be queued' : 'queued'}${this.replies ? ' (m4me outbox lists them; outbox --send sends them)' : ''}`;
      process.stderr.write(`\n${this.summary(this.counts, this.messages, seconds, this.opts.verbose ? times : undefined)}\n  ${replies}\n`);
    }
    if (this.opts.dryRun) process.stderr.write('dry run: nothing was changed\n');
  }
}

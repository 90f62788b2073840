/**
 * Parsing in worker threads, for batches: the MIME parsing of the next messages runs on
 * another core while the main thread decides and stores the current one. The workers run
 * parseEmail itself, so the InboundEmail (and any error) is the one parsing in the main thread
 * gives; a message whose worker died is parsed again in the main thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseEmail, parseSinglePartEmail, UnreadableMessageError } from './parse.js';
import type { ParseReply, ParseTask } from './parse-worker.js';
import type { InboundEmail } from './types.js';

interface Pending { resolve(e: InboundEmail): void; reject(err: unknown): void; raw: Buffer; envelopeSender: string | null }

class ParseWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  private dead = false;

  constructor(private readonly onDeath: (w: ParseWorker) => void, private readonly onReply: () => void) {
    // mailparser allocates a great deal of short-lived memory: a young generation much larger
    // than V8's default saves most of the worker's garbage collection time.
    this.worker = new Worker(new URL('../mail/parse-worker.js', import.meta.url) /* from dist/mail/ and from the bundle in dist/cli/ */, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    this.worker.unref();
    this.worker.on('message', (reply: ParseReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (!this.pending.size) this.worker.unref();
      if ('error' in reply) p.reject(reply.unreadable ? new UnreadableMessageError(reply.error) : new Error(reply.error));
      else p.resolve(revive(reply.email as InboundEmail));
      this.onReply();
    });
    const die = () => {
      if (this.dead) return;
      this.dead = true;
      this.onDeath(this);
      // Whatever it was parsing is parsed here instead.
      for (const p of this.pending.values()) parseEmail(p.raw, p.envelopeSender).then(p.resolve, p.reject);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', die);
  }

  /** Ends the thread; nothing it had is parsed again (the batch is over). */
  stop(): Promise<number> {
    this.dead = true;
    this.pending.clear();
    return this.worker.terminate();
  }

  send(id: number, raw: Buffer, envelopeSender: string | null, p: Pending): void {
    if (!this.pending.size) this.worker.ref();
    this.pending.set(id, p);
    // A message in shared memory (../input/slab.ts) is read by the worker where it lies;
    // any other is copied, and the copy moved.
    if (raw.buffer instanceof SharedArrayBuffer) {
      this.worker.postMessage({ id, raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), envelopeSender } satisfies ParseTask);
      return;
    }
    const copy = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
    this.worker.postMessage({ id, raw: new Uint8Array(copy), envelopeSender } satisfies ParseTask, [copy]);
  }
}

/** Attachment bytes arrive as Uint8Array: Buffers again, as parseEmail gives them. */
function revive(email: InboundEmail): InboundEmail {
  for (const a of email.attachments) {
    const c = a.content as Uint8Array;
    a.content = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }
  return email;
}

/**
 * Messages a worker holds at most: the whole read-ahead. It parses a few dozen at a time
 * (./parse-worker.ts) and keeps the rest queued, so it has work while the main thread is
 * busy for a while (a checkpoint writes the whole store) and cannot hand it more.
 */
const IN_FLIGHT = 512;
/** A worker holding fewer messages than this is given single text parts too. */
const STARVING = Number(process.env.M4ME_STARVING ?? 64);
/** Messages the main thread parses at a time when it comes to one no worker took. */
const STEAL = 4;
const YOUNG_MB = 96;

interface Offered { raw: Buffer; envelopeSender: string | null; parsed: Promise<InboundEmail> | null }

/**
 * Messages read ahead are offered to the pool; a worker takes the oldest one whenever it
 * holds fewer than IN_FLIGHT. When the main thread comes to a message no worker has taken,
 * it parses it itself rather than wait: the parsing is shared out by how busy each side is.
 */
export class ParsePool {
  private workers: ParseWorker[] = [];
  private id = 0;
  private offered = new Map<object, Offered>();

  /**
   * Workers: one per core the main thread leaves free (at least one, at most three).
   * M4ME_PARSE_WORKERS sets the number (0: parse in the main thread), for measurements.
   */
  constructor(size = Number(process.env.M4ME_PARSE_WORKERS ?? Math.max(1, Math.min(3, availableParallelism() - 1)))) {
    for (let i = 0; i < size; i++) {
      this.workers.push(new ParseWorker((w) => { this.workers = this.workers.filter((x) => x !== w); }, () => this.dispatch()));
    }
  }

  /** A message to parse, known by `key`; a worker may start on it. */
  offer(key: object, raw: Buffer, envelopeSender: string | null): void {
    const o: Offered = { raw, envelopeSender, parsed: null };
    this.offered.set(key, o);
    // A single text part is read here at once (cheaper than handing it to a worker and back),
    // unless the worker is about to run out of work.
    if (this.workers.some((w) => w.pending.size >= STARVING)) {
      try {
        const email = parseSinglePartEmail(raw, envelopeSender);
        if (email) { o.parsed = Promise.resolve(email); return; }
      } catch (err) {
        o.parsed = Promise.reject(err);
        o.parsed.catch(() => undefined);
        return;
      }
    }
    if (!this.workers.length) {
      // No thread: parse here (a single text part at once), the rest several at a time,
      // which mailparser does faster.
      o.parsed = parseEmail(raw, envelopeSender);
      o.parsed.catch(() => undefined);
      return;
    }
    this.waiting.push(o);
    this.dispatch();
  }

  /** The message known by `key`, parsed: by a worker if one took it, else here and now. */
  take(key: object, raw: Buffer, envelopeSender: string | null): Promise<InboundEmail> {
    const o = this.offered.get(key);
    this.offered.delete(key);
    if (o?.parsed) return o.parsed;
    // No worker got to it: parse it here, with the next few no worker has either (mailparser
    // parses several messages at a time faster than one after the other).
    let more = STEAL - 1;
    for (const next of this.offered.values()) {
      if (more <= 0) break;
      if (next.parsed) continue;
      next.parsed = parseEmail(next.raw, next.envelopeSender);
      next.parsed.catch(() => undefined);
      more--;
    }
    const parsed = parseEmail(raw, envelopeSender);
    if (o) o.parsed = parsed; // no worker is to start on it now
    return parsed;
  }

  /** Offered messages no one has started to parse, oldest first (some may be taken since). */
  private waiting: Offered[] = [];
  private waitingHead = 0;

  /** Hands the oldest offered messages to workers with room. */
  private dispatch(): void {
    while (this.waitingHead < this.waiting.length) {
      const o = this.waiting[this.waitingHead]!;
      if (o.parsed) { this.waitingHead++; continue; }
      let w: ParseWorker | undefined;
      for (const x of this.workers) if (x.pending.size < IN_FLIGHT && (!w || x.pending.size < w.pending.size)) w = x;
      if (!w) return;
      const worker = w;
      o.parsed = new Promise((resolve, reject) => worker.send(++this.id, o.raw, o.envelopeSender, { resolve, reject, raw: o.raw, envelopeSender: o.envelopeSender }));
      o.parsed.catch(() => undefined); // handled when its message is taken
      this.waitingHead++;
    }
    if (this.waitingHead > 1024) { this.waiting = this.waiting.slice(this.waitingHead); this.waitingHead = 0; }
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    this.offered.clear();
    this.waiting = [];
    this.waitingHead = 0;
    await Promise.all(workers.map((w) => w.stop()));
  }
}

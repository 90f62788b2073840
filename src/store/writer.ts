/**
 * A thread that creates a batch's reply files, so the batch does not wait for it: creating a
 * file costs 0.2-0.7 ms here (the file system's journal), more than rendering the reply, and
 * the batch writes one for about every second message. Files go in groups of 32, as strings
 * (cheap to copy); `flush` resolves once every file posted so far is written, or rejects with
 * the first write error since the last flush (the files that failed are removed). The files
 * are not synced here: the checkpoint does that for all of them together (./durable.ts).
 */
import { Worker } from 'node:worker_threads';
import { fileMode, tempName, type TempFile } from './durable.js';

// A CommonJS script run with `eval`: nothing to find on the disk, from dist/ or from the bundle.
const CODE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
let failed = null;
parentPort.on('message', (m) => {
  if (m.flush !== undefined) { parentPort.postMessage({ flush: m.flush, error: failed }); failed = null; return; }
  for (const [tmp, text, fault, mode] of m.files) {
    if (failed) continue;
    let fd = -1;
    try {
      fd = fs.openSync(tmp, 'wx', mode);
      const b = Buffer.from(text);
      const n = fault ? b.length >> 1 : b.length;
      for (let at = 0; at < n;) at += fs.writeSync(fd, b, at, n - at);
      fs.closeSync(fd);
      fd = -1;
      if (fault) throw Object.assign(new Error('ENOSPC: no space left on device (M4ME_FAULT)'), { code: 'ENOSPC' });
    } catch (e) {
      if (fd >= 0) { try { fs.closeSync(fd); } catch {} }
      try { fs.unlinkSync(tmp); } catch {}
      failed = { message: e.message, code: e.code };
    }
  }
});
`;

const GROUP = 32;

/** Replies after the first this many of a run are created by a writer thread (a batch's). */
export const WRITER_AFTER = 4;

export class WriterThread {
  private worker = new Worker(CODE, { eval: true });
  private group: [string, string, boolean, number][] = [];
  private waiting = new Map<number, { resolve(): void; reject(e: Error): void }>();
  private flushes = 0;
  private dead: Error | null = null;

  constructor() {
    this.worker.on('message', (m: { flush: number; error: { message: string; code?: string } | null }) => {
      const w = this.waiting.get(m.flush);
      this.waiting.delete(m.flush);
      if (m.error) w?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else w?.resolve();
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the file writer thread stopped')));
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const w of this.waiting.values()) w.reject(this.dead);
    this.waiting.clear();
  }

  /** Queues `text` for a new temporary file beside `path` (`fault`: tests, fail it as a full disk does). */
  write(path: string, text: string, fault = false): TempFile {
    const tmp = tempName(path);
    this.group.push([tmp, text, fault, fileMode()]);
    if (this.group.length >= GROUP) this.post();
    return { tmp, path };
  }

  private post(): void {
    if (!this.group.length || this.dead) return;
    this.worker.postMessage({ files: this.group });
    this.group = [];
  }

  /** Resolves once every file queued so far is written; rejects with the first error since the last flush. */
  flush(): Promise<void> {
    this.post();
    if (this.dead) return Promise.reject(this.dead);
    const id = ++this.flushes;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.postMessage({ flush: id });
    return done;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

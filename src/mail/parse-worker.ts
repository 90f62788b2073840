/**
 * A worker thread of ParsePool (./parse-pool.ts): parses raw messages with parseEmail, the
 * same function the main thread uses, and sends the InboundEmail back (attachment bytes
 * moved, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { parseEmail, UnreadableMessageError } from './parse.js';

export interface ParseTask { id: number; raw: Uint8Array; envelopeSender: string | null }
export type ParseReply =
  | { id: number; email: unknown }
  | { id: number; error: string; unreadable: boolean };

/**
 * Messages parsed at once. The pool sends far more than this (it keeps a long queue here, so
 * this thread goes on parsing while the main thread is busy writing a checkpoint and cannot
 * send more); mailparser is fastest with a few dozen interleaved, slower with hundreds.
 */
const CONCURRENT = 32;
const queue: ParseTask[] = [];
let running = 0;

parentPort?.on('message', (task: ParseTask) => {
  queue.push(task);
  next();
});

function next(): void {
  while (running < CONCURRENT && queue.length) {
    running++;
    parse(queue.shift()!).finally(() => { running--; next(); });
  }
}

function parse(task: ParseTask): Promise<void> {
  return parseEmail(Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength), task.envelopeSender).then(
    (email) => {
      const transfer: ArrayBuffer[] = [];
      for (const a of email.attachments) {
        const c = a.content;
        // Moved as it is when the Buffer has its memory to itself, else copied first.
        const own = c.byteOffset === 0 && c.byteLength === c.buffer.byteLength
          ? c.buffer as ArrayBuffer : c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer;
        (a as { content: unknown }).content = new Uint8Array(own);
        if (!transfer.includes(own)) transfer.push(own);
      }
      parentPort!.postMessage({ id: task.id, email } satisfies ParseReply, transfer);
    },
    (err: unknown) => {
      const message = (err as Error)?.message ?? String(err);
      parentPort!.postMessage({ id: task.id, error: message, unreadable: err instanceof UnreadableMessageError } satisfies ParseReply);
    },
  );
}

/**
 * Memory for the messages a batch reads, shared with the parse workers: a worker reads a
 * message where it lies (src/mail/parse-pool.ts posts the view: shared, not copied or moved)
 * while the main thread keeps it for quarantine and for parsing it itself should the worker
 * die. An mbox file is read straight into shared memory (readShared), so a message that lies
 * within one read is a view of it, never copied; one the split has to piece together (across
 * two reads, or unquoted `>From ` lines) is copied once, into a slab (concatShared). On this VM
 * first-touched memory costs ~11 µs a page (docs/PERFORMANCE.md): each copy is that much more.
 *
 * A slab or a read lives as long as any message in it (the garbage collector frees it);
 * nothing is ever written into a slice after it is handed out.
 */
import { open } from 'node:fs/promises';

const SLAB = 1 << 20;
/** A message larger than this gets a buffer of its own (a slab is not kept alive for it). */
const OWN = SLAB >> 2;

let slab: SharedArrayBuffer | null = null;
let used = 0;

/** The pieces, copied one after the other into shared memory. */
export function concatShared(pieces: readonly Buffer[]): Buffer {
  // One piece in shared memory already (a message within one read of readShared): as it is.
  if (pieces.length === 1 && pieces[0]!.buffer instanceof SharedArrayBuffer) return pieces[0]!;
  let total = 0;
  for (const p of pieces) total += p.length;
  let out: Buffer;
  if (total > OWN) out = Buffer.from(new SharedArrayBuffer(total));
  else {
    if (!slab || used + total > SLAB) { slab = new SharedArrayBuffer(SLAB); used = 0; }
    out = Buffer.from(slab, used, total);
    // Slices start 8-byte aligned, as an ArrayBuffer of their own would.
    used += (total + 7) & ~7;
  }
  let at = 0;
  for (const p of pieces) { p.copy(out, at); at += p.length; }
  return out;
}

/** Less room than this left in a read's memory: the next read gets new memory. */
const MIN_READ = 64 << 10;

/** The file's bytes, read in order into shared memory, a read at a time. */
export async function* readShared(path: string): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    let mem: SharedArrayBuffer | null = null;
    let filled = 0;
    for (;;) {
      if (!mem || SLAB - filled < MIN_READ) { mem = new SharedArrayBuffer(SLAB); filled = 0; }
      const into = Buffer.from(mem, filled, SLAB - filled);
      const { bytesRead } = await handle.read(into, 0, into.length, null);
      if (bytesRead === 0) return;
      // Each read a slice of its own: nothing written into it after it is handed out.
      filled += (bytesRead + 7) & ~7;
      yield into.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

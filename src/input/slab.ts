/**
 * Memory for the messages a batch reads: each message is copied once out of the chunks it was
 * read in, into a slice of a SharedArrayBuffer, so a parse worker can read it where it lies
 * (src/mail/parse-pool.ts posts the view: shared, not copied or moved) while the main thread
 * keeps it for quarantine and for parsing it itself should the worker die. Before, each
 * message was copied twice (the split's concatenation, then a copy to move to the worker):
 * on this VM first-touched memory costs ~11 µs a page (docs/PERFORMANCE.md).
 *
 * A slab lives as long as any message in it (the garbage collector frees it); nothing is ever
 * written into a slice after it is handed out.
 */
const SLAB = 1 << 20;
/** A message larger than this gets a buffer of its own (a slab is not kept alive for it). */
const OWN = SLAB >> 2;

let slab: SharedArrayBuffer | null = null;
let used = 0;

/** The pieces, copied one after the other into shared memory. */
export function concatShared(pieces: readonly Buffer[]): Buffer {
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

/**
 * Strings encoded straight into a buffer of UTF-8, handed on a chunk at a time: the delivery
 * log's lines, the store file's rows and `process`'s result lines. Joining them into one
 * string and encoding it into a new buffer touches that much fresh memory twice (more for text
 * outside Latin-1, which V8 keeps at two bytes a character), and a first touch of a page costs
 * ~11 µs on the VM this is measured on (docs/PERFORMANCE.md).
 */
export class Utf8Chunks {
  private used = 0;

  /**
   * `sink` gets each full chunk (and any string too long for one, encoded on its own). With
   * `fresh` each chunk is a buffer of its own that the sink may keep; otherwise the same buffer
   * is filled again, so the sink must be done with it when it returns.
   */
  constructor(private buf: Buffer, private readonly sink: (bytes: Buffer) => void, private readonly fresh = false) {}

  /** Encodes `s`; returns its length in bytes. */
  text(s: string): number {
    // A UTF-16 unit takes at most 3 bytes in UTF-8: a string that may not fit ends the chunk.
    if (s.length * 3 > this.buf.length - this.used) {
      this.flush();
      if (s.length * 3 > this.buf.length) {
        const b = Buffer.from(s, 'utf8');
        this.sink(b);
        return b.length;
      }
    }
    const n = this.buf.write(s, this.used, 'utf8');
    this.used += n;
    return n;
  }

  /** Hands on what is encoded so far. */
  flush(): void {
    if (!this.used) return;
    const bytes = this.buf.subarray(0, this.used);
    if (this.fresh) this.buf = Buffer.allocUnsafe(this.buf.length);
    this.used = 0;
    this.sink(bytes);
  }
}

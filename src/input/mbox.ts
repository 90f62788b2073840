import type { Readable } from 'node:stream';
import { concatShared } from './slab.js';

export interface MboxMessage {
  raw: Buffer;
  /** The sender named on the `From ` line. */
  envelopeFrom: string | undefined;
}

const NL = 0x0a;
const CR = 0x0d;
const GT = 0x3e;

/** `From ` at [start, end). */
function isFromLine(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 5 && buf[start] === 0x46 && buf[start + 1] === 0x72 && buf[start + 2] === 0x6f &&
    buf[start + 3] === 0x6d && buf[start + 4] === 0x20;
}

/**
 * A separator after the first message must look like one (`From sender Mon Mar  2 08:30:00 2026`):
 * local(8) does not quote body lines when it pipes one message to a command, so a paragraph
 * starting "From what I see" must stay text rather than cut the message in two.
 */
const ENVELOPE = /^From (?:\S+|"[^"]*"\S*)?[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+\d{1,2}[ \t]+\d{1,2}:\d\d/i;

function isSeparator(buf: Buffer, start: number, end: number): boolean {
  return ENVELOPE.test(buf.toString('latin1', start, Math.min(end, start + 200)));
}

/** `>From `, `>>From `, …: mboxrd quoting (and mboxo's `>From `), undone by dropping one `>`. */
function isQuotedFrom(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && buf[i] === GT) i++;
  return i > start && isFromLine(buf, i, end);
}

const HEADER_FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
const ORIGIN_FIELD = /^(?:from|date)[ \t]*:/i;
/** Past this many bytes of header block after a candidate separator, it is decided on what was seen. */
const MAX_HELD_BYTES = 256 << 10;

export function envelopeSender(line: Buffer): string | undefined {
  const sender = line.toString('latin1').slice(5).trim().split(/\s+/)[0];
  return sender || undefined;
}

/** The messages a chunk completed, in order (shift() on a long array moves all the rest each time). */
function* drain(ready: MboxMessage[]): Generator<MboxMessage> {
  for (let i = 0; i < ready.length; i++) yield ready[i]!;
  ready.length = 0;
}

/**
 * Splits an mbox stream into messages without holding more than one message in memory.
 * A `From ` line starts a message at the beginning of the stream or after a blank line (so
 * an unquoted `From ` inside a paragraph of mboxo stays text); the blank line before it
 * belongs to the separator and is dropped.
 *
 * Lines are only looked at, never copied: consecutive lines of a message are kept as one
 * slice of the chunk they were read in, and a message is copied once, when it is complete.
 */
export async function* splitMbox(stream: Readable | AsyncIterable<Buffer>, opts: { strict?: boolean } = {}): AsyncGenerator<MboxMessage> {
  // The message being collected: finished slices, and the open run [runStart, runEnd) of runBuf.
  let pieces: Buffer[] = [];
  let runBuf: Buffer | null = null;
  let runStart = 0;
  let runEnd = 0;
  let envelope: Buffer | null = null;
  let started = false;
  let previousBlank = true;
  // The last line added (after unquoting): a blank one is the separator's, dropped at the end.
  let lastLen = 0;
  let lastFirst = -1;
  // A stream that does not open with a `From ` line is one plain message: never split it.
  let plain = false;
  const ready: MboxMessage[] = [];

  const append = (buf: Buffer, start: number, end: number): void => {
    if (runBuf === buf && runEnd === start) { runEnd = end; return; }
    if (runBuf && runEnd > runStart) pieces.push(runBuf.subarray(runStart, runEnd));
    runBuf = buf; runStart = start; runEnd = end;
  };

  const finish = (): void => {
    if (!started) return;
    if (runBuf && runEnd > runStart) pieces.push(runBuf.subarray(runStart, runEnd));
    runBuf = null;
    // The last line of a message is the blank line that precedes the next separator.
    if (!plain && lastLen > 0 && (lastLen === 1 || (lastLen === 2 && lastFirst === CR))) {
      const tail = pieces[pieces.length - 1]!;
      pieces[pieces.length - 1] = tail.subarray(0, tail.length - lastLen);
    }
    const raw = concatShared(pieces);
    ready.push({ raw, envelopeFrom: envelope ? envelopeSender(envelope) : undefined });
    pieces = [];
    lastLen = 0;
    lastFirst = -1;
  };

  const separator = (buf: Buffer, start: number, end: number): void => {
    finish();
    envelope = Buffer.from(buf.subarray(start, end));
    started = true;
    previousBlank = false;
  };

  // Strict (standard input, which is usually one message): a later `From ` line is held with
  // the lines after it until they show a header block with a From: or Date: field (then it
  // separates) or something else (then it and they are body text).
  let held: [Buffer, number, number][] | null = null;
  let heldBytes = 0;
  let heldOrigin = false;
  const settleHeld = (): void => {
    const lines = held!;
    held = null;
    const confirmed = heldOrigin;
    lines.forEach(([b, s, e], i) => (i === 0 && confirmed ? separator(b, s, e) : bodyLine(b, s, e)));
  };
  const hold = (buf: Buffer, start: number, end: number): boolean => {
    const len = end - start;
    const blank = len === 1 ? buf[start] === NL : len === 2 && buf[start] === CR && buf[start + 1] === NL;
    const text = buf.toString('latin1', start, Math.min(end, start + 200));
    const field = !blank && HEADER_FIELD.test(text);
    const folded = !blank && held!.length > 1 && (buf[start] === 0x20 || buf[start] === 0x09);
    if (field || folded) {
      held!.push([buf, start, end]);
      heldOrigin ||= field && ORIGIN_FIELD.test(text);
      heldBytes += len;
      if (heldBytes > MAX_HELD_BYTES) settleHeld();
      return true;
    }
    settleHeld();
    return false;
  };

  // One line [start, end) of buf, its newline included when there is one.
  const line = (buf: Buffer, start: number, end: number): void => {
    if (plain) { append(buf, start, end); return; }
    if (held && hold(buf, start, end)) return;
    const first = buf[start];
    if (first === 0x46 && previousBlank && isFromLine(buf, start, end) && (!started || isSeparator(buf, start, end))) {
      if (opts.strict && started) {
        held = [[buf, start, end]];
        heldBytes = end - start;
        heldOrigin = false;
        return;
      }
      separator(buf, start, end);
      return;
    }
    if (!started) {
      started = true;
      plain = true;
      append(buf, start, end);
      return;
    }
    bodyLine(buf, start, end);
  };

  function bodyLine(buf: Buffer, start: number, end: number): void {
    const first = buf[start];
    const len = end - start;
    if (first === GT && isQuotedFrom(buf, start, end)) {
      append(buf, start + 1, end);
      lastLen = len - 1;
      lastFirst = buf[start + 1]!;
    } else {
      append(buf, start, end);
      lastLen = len;
      lastFirst = first ?? -1;
    }
    previousBlank = len === 1 ? first === NL : len === 2 && first === CR && buf[start + 1] === NL;
  }

  // The line begun in earlier chunks, joined once when it ends (joining it on every chunk
  // copied a long line once per chunk: quadratic for a slow writer on a pipe).
  let carry: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let pos = 0;
    if (carry.length) {
      const nl = buf.indexOf(NL);
      if (nl < 0) { carry.push(buf); continue; }
      const joined = Buffer.concat([...carry, buf.subarray(0, nl + 1)]);
      carry = [];
      line(joined, 0, joined.length);
      pos = nl + 1;
    }
    if (plain) {
      if (pos < buf.length) append(buf, pos, buf.length);
    } else {
      for (;;) {
        const nl = buf.indexOf(NL, pos);
        if (nl < 0) break;
        line(buf, pos, nl + 1);
        pos = nl + 1;
        if (plain) { if (pos < buf.length) append(buf, pos, buf.length); pos = buf.length; break; }
      }
      if (pos < buf.length) carry.push(buf.subarray(pos));
    }
    yield* drain(ready);
  }
  if (carry.length) { const joined = Buffer.concat(carry); line(joined, 0, joined.length); }
  if (held) settleHeld();
  finish();
  yield* drain(ready);
}

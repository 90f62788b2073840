import type { Readable } from 'node:stream';

export interface MboxMessage {
  raw: Buffer;
  /** The sender named on the `From ` line. */
  envelopeFrom: string | undefined;
}

const FROM_ = Buffer.from('From ');
const NL = 0x0a;

function isFromLine(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 5 && buf.compare(FROM_, 0, 5, start, start + 5) === 0;
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
  while (i < end && buf[i] === 0x3e) i++;
  return i > start && isFromLine(buf, i, end);
}

function envelopeSender(line: Buffer): string | undefined {
  const sender = line.toString('latin1').slice(5).trim().split(/\s+/)[0];
  return sender || undefined;
}

/**
 * Splits an mbox stream into messages without holding more than one message in memory.
 * A `From ` line starts a message at the beginning of the stream or after a blank line (so
 * an unquoted `From ` inside a paragraph of mboxo stays text); the blank line before it
 * belongs to the separator and is dropped.
 */
export async function* splitMbox(stream: Readable | AsyncIterable<Buffer>): AsyncGenerator<MboxMessage> {
  let parts: Buffer[] = [];
  let envelope: Buffer | null = null;
  let started = false;
  let previousBlank = true;
  let carry: Buffer | null = null;
  // A stream that does not open with a `From ` line is one plain message: never split it.
  let plain = false;

  const finish = (): MboxMessage | null => {
    if (!started) return null;
    // The last line of a message is the blank line that precedes the next separator.
    const last = parts[parts.length - 1];
    if (!plain && last && (last.length === 1 || (last.length === 2 && last[0] === 0x0d))) parts.pop();
    const raw = Buffer.concat(parts);
    const message = { raw, envelopeFrom: envelope ? envelopeSender(envelope) : undefined };
    parts = [];
    return message;
  };

  const line = function* (buf: Buffer, start: number, end: number): Generator<MboxMessage> {
    // [start, end) includes the newline, if there is one.
    if (plain) { parts.push(buf.subarray(start, end)); return; }
    if (previousBlank && isFromLine(buf, start, end) && (!started || isSeparator(buf, start, end))) {
      const done = finish();
      if (done) yield done;
      envelope = Buffer.from(buf.subarray(start, end));
      started = true;
      previousBlank = false;
      return;
    }
    if (!started) {
      started = true;
      plain = true;
      parts.push(buf.subarray(start, end));
      return;
    }
    const body = isQuotedFrom(buf, start, end) ? buf.subarray(start + 1, end) : buf.subarray(start, end);
    parts.push(body);
    const len = end - start;
    previousBlank = len === 1 ? buf[start] === NL : len === 2 && buf[start] === 0x0d && buf[start + 1] === NL;
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (carry) { buf = Buffer.concat([carry, buf]); carry = null; }
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      if (nl < 0) break;
      yield* line(buf, pos, nl + 1);
      pos = nl + 1;
    }
    if (pos < buf.length) carry = buf.subarray(pos);
  }
  if (carry) yield* line(carry, 0, carry.length);
  const done = finish();
  if (done) yield done;
}

import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { envelopeSender, splitMbox } from './mbox.js';
import { readShared } from './slab.js';
import type { RawMessage } from './types.js';

/** A command-line input that cannot be read at all (missing file, unreadable folder). */
export class InputError extends Error {}

/**
 * Every message of every input, in the order given, as a stream: mbox files are split while
 * they are read, so an archive of any size never sits in memory. All inputs are checked
 * before the first message is yielded, so a typo fails the run before anything is applied.
 */
export async function* readInputs(
  inputs: string[],
  io: {
    stdin: Readable;
    /** Standard input is one message (a local(8) delivery), never split as an mbox. */
    stdinIsOneMessage?: boolean;
  },
): AsyncGenerator<RawMessage> {
  const list = inputs.length ? inputs : ['-'];
  if (list.filter((i) => i === '-').length > 1) throw new InputError('standard input (-) can be given only once');
  const kinds = await Promise.all(list.map(async (input) => (input === '-' ? 'stdin' as const : kindOf(input))));
  for (let i = 0; i < list.length; i++) {
    const input = list[i]!;
    const kind = kinds[i]!;
    if (kind === 'stdin') yield* io.stdinIsOneMessage ? oneMessage(io.stdin) : fromStream(io.stdin, 'stdin');
    else if (kind === 'dir') yield* fromDirectory(input);
    else yield* fromFile(input);
  }
}

async function kindOf(path: string): Promise<'file' | 'dir'> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) return 'dir';
    if (s.isFile() || s.isFIFO()) return 'file';
    throw new InputError(`${path}: not a file or directory`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
}

async function startsWithFrom(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(5);
    const { bytesRead } = await handle.read(head, 0, 5, 0);
    return bytesRead === 5 && head.toString('latin1') === 'From ';
  } finally {
    await handle.close();
  }
}

async function* fromFile(path: string): AsyncGenerator<RawMessage> {
  let mbox: boolean;
  try {
    mbox = (await stat(path)).isFIFO() || await startsWithFrom(path);
  } catch (err) {
    throw new InputError(`${path}: ${(err as Error).message}`);
  }
  if (mbox) {
    yield* fromStream(readShared(path), path);
    return;
  }
  yield { input: path, raw: await readFile(path) };
}

/**
 * Standard input of a local(8) delivery: one message, whatever its body holds (local(8) does
 * not quote `From ` lines of the body when it pipes to a command, so a quoted mbox excerpt
 * must not cut the delivery in two). Its `From ` line, if any, is the envelope sender.
 */
async function* oneMessage(stream: Readable): AsyncGenerator<RawMessage> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  const all = Buffer.concat(chunks);
  if (all.subarray(0, 5).toString('latin1') !== 'From ') { yield { input: 'stdin', raw: all }; return; }
  const nl = all.indexOf(0x0a);
  const line = nl < 0 ? all : all.subarray(0, nl);
  const envelopeFrom = envelopeSender(line);
  yield { input: 'stdin', raw: nl < 0 ? Buffer.alloc(0) : all.subarray(nl + 1), ...(envelopeFrom ? { envelopeFrom } : {}) };
}

/**
 * A stream that is one message (with or without the `From ` line local(8) adds) or an mbox.
 * Labels: the plain name for a single message, `mbox:NAME#N` when there are several.
 *
 * The `From ` line names the envelope sender only for one message on standard input (what
 * local(8) and procmail hand over). In an archive it is a separator: many mail programs write
 * `From MAILER-DAEMON` or `From -` there for every message, which is no sender at all.
 */
async function* fromStream(stream: Readable | AsyncIterable<Buffer>, name: string): AsyncGenerator<RawMessage> {
  let pending: RawMessage | null = null;
  let n = 0;
  const envelopes = name === 'stdin';
  // Standard input is split only by an mbox's own structure (./mbox.ts, strict).
  for await (const m of splitMbox(stream, { strict: envelopes })) {
    n++;
    if (pending) {
      if (n === 2) { pending.input = `mbox:${name}#1`; delete pending.envelopeFrom; }
      yield pending;
    }
    pending = { input: n === 1 ? name : `mbox:${name}#${n}`, raw: m.raw, ...(envelopes && n === 1 && m.envelopeFrom ? { envelopeFrom: m.envelopeFrom } : {}) };
  }
  if (pending) yield pending;
  // Empty input is still a delivery (of an empty message): it is quarantined, never dropped.
  else yield { input: name, raw: Buffer.alloc(0) };
}

/** `*.eml` in the folder, then a Maildir's `new/` and `cur/`, each in name order. */
async function* fromDirectory(dir: string): AsyncGenerator<RawMessage> {
  const list = async (d: string, filter: (n: string) => boolean): Promise<string[]> => {
    try {
      const entries = await readdir(d, { withFileTypes: true });
      return entries.filter((e) => e.isFile() && filter(e.name)).map((e) => e.name).sort().map((n) => join(d, n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && d !== dir) return [];
      throw new InputError(`${d}: ${(err as Error).message}`);
    }
  };
  const files = [
    ...await list(dir, (n) => n.toLowerCase().endsWith('.eml')),
    ...await list(join(dir, 'new'), (n) => !n.startsWith('.')),
    ...await list(join(dir, 'cur'), (n) => !n.startsWith('.')),
  ];
  for (const file of files) yield* fromFile(file);
}

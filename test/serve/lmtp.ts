/**
 * Test helpers for `m4me serve`: the built CLI as a child process, and a real LMTP client
 * (nodemailer's SMTPConnection with `lmtp: true`, the sibling of the smtp-server that serve
 * uses); every server reply line is captured from the client's transaction log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { BIN, ROOT } from '../helpers/cli.js';

export interface Served {
  child: ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** What the "listening on" line said (unix:/path or host:port). */
  where: string;
}

const running = new Set<ChildProcess>();

/** Ends (kill -9) every server a failed test left running, so jest does not wait for them. */
export function killLeftovers(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
}

/**
 * Starts `m4me serve ARGS` and waits for its "listening on" line (or its exit). `wrap` runs it
 * under another program (strace): given node's argv, it returns the command and its argv.
 */
export async function serve(args: string[], env: Record<string, string> = {},
  wrap: (argv: string[]) => [string, string[]] = (argv) => [argv[0]!, argv.slice(1)]): Promise<Served> {
  const [command, argv] = wrap([process.execPath, BIN, 'serve', ...args]);
  const child = spawn(command, argv, {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const where = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (\S+?),? /.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
  return { child, stderr: () => err, exited, where };
}

/** Waits until `check()` is true (polling), at most `ms`. */
export async function until(check: () => boolean, ms = 10000, what?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting${what ? `: ${what()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Sent {
  /** Every reply line of the server, in order ("250 2.0.0 ..."). */
  lines: string[];
  /** The replies after DATA, one per accepted recipient, in RCPT order. */
  dataReplies: string[];
  accepted: string[];
  rejected: string[];
  error: string | null;
}

function socketTo(where: string): Promise<Socket> {
  const s = where.startsWith('unix:') ? connect(where.slice(5)) : connect(Number(where.split(':').pop()), '127.0.0.1');
  return new Promise((resolve, reject) => { s.once('connect', () => resolve(s)); s.once('error', reject); });
}

/** Delivers one message over LMTP to `where`. `message` may be a stream (to stop it half-way). */
export async function lmtpSend(where: string, from: string, to: string[], message: string | Buffer | Readable,
  opts: { size?: number; beforeSend?: Promise<void>; connected?: () => void } = {}): Promise<Sent> {
  const lines: string[] = [];
  const logger = {
    level: () => undefined, trace: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, fatal: () => undefined,
    debug: (entry: { tnx?: string }, msg: string) => { if (entry?.tnx === 'server') lines.push(...String(msg).split(/\r?\n/)); },
  };
  let socket: Socket;
  try {
    socket = await socketTo(where);
  } catch (err) {
    return { lines, dataReplies: [], accepted: [], rejected: [], error: (err as Error).message };
  }
  const c = new SMTPConnection({ connection: socket, lmtp: true, transactionLog: true, logger, name: 'test.example', socketTimeout: 60000 } as never);
  try {
    await new Promise<void>((resolve, reject) => { c.once('error', reject); c.connect(() => resolve()); });
  } catch (err) {
    socket.destroy();
    return { lines, dataReplies: [], accepted: [], rejected: [], error: (err as Error).message };
  }
  // Connected and greeted (LHLO done); the transaction starts once this resolves.
  opts.connected?.();
  await opts.beforeSend;
  const result = await new Promise<Sent>((resolve) => {
    c.once('error', (err: Error) => resolve({ lines, dataReplies: [], accepted: [], rejected: [], error: err.message }));
    c.send({ from, to, ...(opts.size ? { size: opts.size } : {}) } as never, message as never, (err: Error | null, info?: { accepted: string[]; rejected: string[] }) => {
      resolve({ lines, dataReplies: [], accepted: info?.accepted ?? [], rejected: info?.rejected ?? [], error: err ? err.message : null });
    });
  });
  try { c.quit(); } catch { /* gone */ }
  socket.destroy();
  const data = result.lines.findIndex((l) => l.startsWith('354'));
  result.dataReplies = data < 0 ? [] : result.lines.slice(data + 1).filter((l) => /^\d{3} /.test(l) && !l.startsWith('221'));
  return result;
}

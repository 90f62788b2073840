/** Helpers of the reliability suite: snapshots of a store's folder, raw spawns, configs. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BIN, ROOT, type Run } from '../helpers/cli.js';

/** Every file under `dir` (recursively) with the sha256 of its bytes, by path relative to `dir`. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * Files under `dir` (recursively), relative paths, sorted — without the
 * delivery log `<store>.log`: it is appended before each commit and is only
 * a record beside the store (`m4me log` shows a line only once the ledger
 * holds its delivery), so a failed commit may leave a line there by design.
 */
export function filesUnder(dir: string): string[] {
  return Object.keys(snapshot(dir))
    .filter((p) => !p.endsWith('.json.log'))
    .sort();
}

/** A JSON configuration file in `dir`; returns its path. */
export function writeConfig(dir: string, config: Record<string, unknown>, name = 'm4me.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const cleanEnv = (env: Record<string, string> = {}) =>
  ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1', ...env });

/** Starts the CLI without waiting for it: for kill -9 and for holding stdin open. */
export function startCli(args: string[], env?: Record<string, string>): ChildProcess & { done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(env) });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  child.stdin!.on('error', () => undefined);
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code: code ?? (signal ? -1 : 0), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(),
    }));
  });
  return Object.assign(child, { done });
}

/** Runs the CLI as another user (root only): how a permission test still means something as root. */
export function runCliAs(uid: number, gid: number, args: string[], stdin: string | Buffer = ''): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(), uid, gid, input: stdin });
  return { code: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Whether `uid` can run node on the built CLI at all (the checkout must be readable to it). */
export function canRunAs(uid: number, gid: number): boolean {
  try {
    const r = spawnSync(process.execPath, [BIN, '--version'], { cwd: ROOT, env: cleanEnv(), uid, gid });
    return r.status === 0;
  } catch {
    return false;
  }
}

/** Polls `check` every 20 ms until it holds or `ms` pass. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const mtimeMs = (path: string) => statSync(path).mtimeMs;

/** The one stderr line every failure prints: an RFC 3463 status, then `m4me: ` and what happened. */
export function expectOneStatusLine(stderr: string, status: RegExp): string {
  const lines = stderr.split('\n').filter((l) => l.trim());
  if (lines.length !== 1) throw new Error(`expected one stderr line, got ${lines.length}:\n${stderr}`);
  const line = lines[0]!;
  if (!/^[245]\.\d{1,3}\.\d{1,3} m4me: /.test(line) || !status.test(line)) throw new Error(`unexpected stderr line: ${line}`);
  return line;
}

/** A message from the demo's Ellen Brown with a text part and one attachment. */
export function mailWithAttachment(id: string | null, content: Buffer, opts: { subject?: string; filename?: string; eol?: string } = {}): string {
  const eol = opts.eol ?? '\n';
  const b64 = content.toString('base64').replace(/.{76}/g, `$&${eol}`);
  return [
    'From: Ellen Brown <ellen.brown@widget.example>', 'To: widget-it@mail.4me.com', `Subject: ${opts.subject ?? 'Screenshot of the error'}`,
    'Date: Mon, 02 Mar 2026 08:30:00 +0000', ...(id ? [`Message-ID: <${id}>`] : []), 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain; charset=utf-8', '', 'See the attachment.',
    '--b', `Content-Type: application/octet-stream; name="${opts.filename ?? 'shot.bin'}"`, 'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${opts.filename ?? 'shot.bin'}"`, '', b64, '--b--', '',
  ].join(eol);
}

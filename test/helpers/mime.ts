/** Building MIME messages for tests, and running one through the CLI against a temp store. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Result } from '../../src/cli/result.js';
import { DEMO_NOW, demoStoreFile, jsonLines, runCli, tempDir, type Run } from './cli.js';
import type { StoreData } from '../../src/store/schema.js';

export interface Part { headers: string[]; body: string }

let boundaries = 0;

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** base64 in 76-character lines. */
export function b64(content: Buffer | string): string {
  return (Buffer.isBuffer(content) ? content : Buffer.from(content)).toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd();
}

export function text(body: string, type = 'text/plain'): Part {
  return { headers: [`Content-Type: ${type}; charset=utf-8`, 'Content-Transfer-Encoding: 8bit'], body };
}

export function html(body: string): Part {
  return text(body, 'text/html');
}

/** A base64 part; `disposition` null leaves the header out. */
export function file(content: Buffer | string, opts: {
  type?: string; filename?: string | null; disposition?: 'attachment' | 'inline' | null; cid?: string;
  /** Raw text after `Content-Disposition: attachment` (e.g. an RFC 2231 `filename*=` parameter). */
  dispositionParams?: string; typeParams?: string;
} = {}): Part {
  const type = opts.type ?? 'application/octet-stream';
  const disposition = opts.disposition === undefined ? 'attachment' : opts.disposition;
  const name = opts.filename === undefined ? 'file.bin' : opts.filename;
  const params = opts.dispositionParams ?? (name === null ? '' : `; filename="${name}"`);
  return {
    headers: [
      `Content-Type: ${type}${opts.typeParams ?? ''}`,
      'Content-Transfer-Encoding: base64',
      ...(disposition ? [`Content-Disposition: ${disposition}${params}`] : []),
      ...(opts.cid ? [`Content-ID: <${opts.cid}>`] : []),
    ],
    body: b64(content),
  };
}

export function multipart(subtype: string, parts: Part[]): Part {
  const boundary = `=_b${++boundaries}_${Math.random().toString(36).slice(2)}`;
  const body = parts.map((p) => `--${boundary}\n${p.headers.join('\n')}\n\n${p.body}\n`).join('') + `--${boundary}--\n`;
  return { headers: [`Content-Type: multipart/${subtype}; boundary="${boundary}"`], body };
}

export interface Envelope { from?: string; to?: string; subject?: string; id?: string | null; date?: string; headers?: string[] }

/** A whole message around a root part. */
export function message(h: Envelope, root: Part): string {
  return [
    `From: ${h.from ?? 'Ellen Brown <ellen.brown@widget.example>'}`,
    `To: ${h.to ?? 'widget-it@mail.4me.com'}`,
    `Subject: ${h.subject ?? 'Attachments test'}`,
    `Date: ${h.date ?? 'Mon, 02 Mar 2026 08:30:00 +0000'}`,
    ...(h.id === null ? [] : [`Message-ID: <${h.id ?? `t${Math.random().toString(36).slice(2)}@widget.example`}>`]),
    ...(h.headers ?? []),
    'MIME-Version: 1.0',
    ...root.headers,
    '',
    root.body,
  ].join('\n');
}

export interface Processed { run: Run; line: Result; lines: Result[]; store: string; dir: string }

/** Runs messages through `m4me process --json` against a fresh demo store. */
export async function processMessage(raw: string | Buffer, opts: {
  store?: string; args?: string[]; mutate?: (s: StoreData) => void; config?: Record<string, unknown>; now?: string;
  cwd?: string; env?: Record<string, string>;
} = {}): Promise<Processed> {
  const dir = opts.store ? join(opts.store, '..') : tempDir();
  const store = opts.store ?? demoStoreFile(dir, opts.mutate);
  const args = ['process', '--json', '--store', store, '--now', opts.now ?? DEMO_NOW, ...(opts.args ?? [])];
  if (opts.config) {
    const cfg = join(dir, 'm4me.config.json');
    writeFileSync(cfg, JSON.stringify(opts.config));
    args.push('--config', cfg);
  }
  const run = await runCli(args, { stdin: raw, ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}) });
  const lines = jsonLines(run.stdout);
  return { run, line: lines[0]!, lines, store, dir };
}

/** Every file below `dir`, as paths relative to it. */
export function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p); else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) visit(dir);
  return out.sort();
}

/** The .eml files of the store's outbox, with their text. */
export function outbox(store: string): { name: string; text: string }[] {
  const dir = `${store}.outbox`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

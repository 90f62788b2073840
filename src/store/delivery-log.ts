/**
 * The delivery log beside the store (`<store>.log`): one JSON line per message a delivery
 * committed, with what `m4me log` shows and `--explain` replays: when, from, to, subject,
 * outcome, rule, record, warnings and the whole trace. Append-only; bounded by
 * `m4me compact --before DATE`. The ledger (`inbound`) stays the record of what was done: a
 * line is appended (and synced) before the store commit it belongs to, and `m4me log` shows
 * only lines whose ledger entry is in the store, so a commit that failed never shows.
 */
import { closeSync, fdatasyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileMode, syncDir, tempName } from './durable.js';
import type { Decision, TraceEntry } from '../engine/types.js';
import type { RecordRef } from './schema.js';
import { Utf8Chunks } from './utf8-chunks.js';

export interface LogLine {
  at: string; key: string; message_id: string | null; from: string | null; to: string; subject: string;
  outcome: string; rule: string; record: RecordRef | null; warnings: string[];
  /** [rule, result, detail] per trace entry. */
  trace: [string, TraceEntry['result'], string][];
}

export const logPath = (store: string) => `${store}.log`;

export function logLine(d: Decision, about: { from: string | null; subject: string }): string | null {
  if (!d.inbound) return null; // a duplicate changes nothing: nothing to log
  const line: LogLine = {
    at: d.inbound.received_at, key: d.inbound.key, message_id: d.inbound.message_id, from: about.from, to: d.inbound.recipient,
    subject: about.subject, outcome: d.outcome, rule: d.rule, record: d.record, warnings: d.warnings,
    trace: d.trace.map((t) => [t.rule, t.result, t.detail]),
  };
  return `${JSON.stringify(line)}\n`;
}

/** Where appendLog encodes lines (./utf8-chunks.ts): one buffer kept from call to call. */
const LOG_CHUNK = 1 << 20;
let logChunk: Buffer | null = null;

/** Appends lines and syncs them (a new log gets the store's mode, as every file beside it: it holds personal data). */
export function appendLog(store: string, lines: string[]): void {
  if (!lines.length) return;
  const fd = openSync(logPath(store), 'a', fileMode());
  try {
    const out = new Utf8Chunks(logChunk ??= Buffer.allocUnsafeSlow(LOG_CHUNK), (b) => {
      for (let at = 0; at < b.length;) at += writeSync(fd, b, at, b.length - at);
    });
    for (const line of lines) out.text(line);
    out.flush();
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every line of the log (a line cut short by a crash is passed over). */
export function readLog(store: string): LogLine[] {
  let text: string;
  try { text = readFileSync(logPath(store), 'utf8'); } catch { return []; }
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l) continue;
    try { out.push(JSON.parse(l) as LogLine); } catch { /* torn last line */ }
  }
  return out;
}

/** Replaces the log by `lines` (m4me compact): temporary file, synced, renamed, folder synced. */
export function rewriteLog(store: string, lines: LogLine[]): void {
  const path = logPath(store);
  const tmp = tempName(path);
  let mode = 0o600;
  try { mode = statSync(path).mode & 0o666; } catch { /* none yet */ }
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDir(dirname(path));
}

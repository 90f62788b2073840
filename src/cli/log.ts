/**
 * `m4me log` (CONTRACT §9): the messages processed, from the inbound ledger, with what the
 * delivery log beside the store adds (from, subject, and with --explain the trace each was
 * decided by). `m4me compact --before D` bounds the ledger, the automatic replies and the log.
 */
import { readLog, type LogLine } from '../store/delivery-log.js';
import { defaultPaths, Store } from '../store/store.js';
import type { InboundEntry } from '../store/schema.js';
import { isPgUrl } from '../store/pg/url.js';
import { loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';
import { parseSince } from './inspect.js';
import { printable } from './terminal.js';

export interface LogOptions { store?: string; config?: string; since?: string; from?: string; messageId?: string; outcome?: string; json: boolean; explain: boolean }

const OUTCOMES = ['request_created', 'note_added', 'unchanged', 'rejected'];

export async function runLog(opts: LogOptions): Promise<number> {
  const since = opts.since === undefined ? null : parseSince(opts.since);
  if (opts.outcome && !OUTCOMES.includes(opts.outcome)) throw new UsageError(`--outcome: one of ${OUTCOMES.join(', ')}, not "${opts.outcome}"`);
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  let ledger: InboundEntry[];
  let logged: LogLine[];
  if (isPgUrl(config.store)) {
    // The delivery log is a table there, written in each delivery's own transaction.
    const { readPgLog } = await import('../store/pg/read.js');
    ({ ledger, lines: logged } = await readPgLog(config.store, since));
  } else {
    const store = await Store.open(defaultPaths(config.store, config.outbox), { lock: false, lockTimeoutMs: 0 });
    try {
      ledger = store.data.inbound;
      // With the lines the journal holds yet (serve's groups not folded into the store).
      logged = [...readLog(store.filePath), ...store.journalLog];
    } finally {
      await store.release();
    }
  }
  // A line counts when its ledger entry is in the store (same key, same time): a delivery
  // whose store commit failed left a line and no entry.
  const lines = new Map<string, LogLine>();
  for (const l of logged) lines.set(`${l.key}\n${l.at}`, l);
  const id = opts.messageId?.replace(/^<|>$/g, '');
  const from = opts.from?.toLowerCase();
  const rows = ledger
    .map((e) => ({ e, l: lines.get(`${e.key}\n${e.received_at}`) }))
    .filter(({ e, l }) => (since === null || Date.parse(e.received_at) >= since)
      && (!id || e.message_id === id)
      && (!opts.outcome || e.outcome === opts.outcome)
      && (!from || l?.from?.toLowerCase() === from));
  for (const { e, l } of rows) {
    if (opts.json) {
      const { trace, warnings, ...rest } = l ?? ({} as Partial<LogLine>);
      process.stdout.write(`${JSON.stringify({
        received_at: e.received_at, key: e.key, message_id: e.message_id, from: rest.from ?? null, recipient: e.recipient,
        subject: rest.subject ?? null, outcome: e.outcome, rule: e.rule, record: e.record,
        ...(opts.explain ? { warnings: warnings ?? [], trace: (trace ?? []).map(([rule, result, detail]) => ({ rule, result, detail })) } : {}),
      })}\n`);
      continue;
    }
    const record = e.record ? ` ${e.record.type} #${e.record.id}` : '';
    const text = `${e.received_at}  ${l?.from ?? '?'} → ${e.recipient}  ${e.outcome}${record} [${e.rule}]  ${e.message_id ? `<${e.message_id}>` : ''}${l ? `  "${l.subject}"` : ''}`;
    process.stdout.write(`${printable(text)}\n`);
    if (opts.explain) {
      if (!l) { process.stdout.write('  (no trace kept: delivered before m4me kept one, or compacted)\n'); continue; }
      const { renderTrace } = await import('./render.js');
      for (const w of l.warnings) process.stdout.write(`  warning: ${printable(w)}\n`);
      const trace = l.trace.map(([rule, result, detail]) => ({ rule, result, detail }));
      process.stdout.write(`${renderTrace(trace, trace.map((t) => t.rule).lastIndexOf(e.rule)).join('\n')}\n`);
    }
  }
  if (!opts.json) process.stderr.write(`${rows.length} message${rows.length === 1 ? '' : 's'}\n`);
  return EX.OK;
}

export async function runCompact(opts: { store?: string; config?: string; before: string; dryRun: boolean }): Promise<number> {
  const before = parseSince(opts.before);
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const report = (n: { inbound: number; auto_replies: number; log: number }) => {
    const when = new Date(before).toISOString();
    process.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} what is older than ${when}: ${n.inbound} ledger entries, ${n.auto_replies} automatic replies, ${n.log} delivery log lines${opts.dryRun ? ' (dry run: nothing was changed)' : ''}\n`);
  };
  if (isPgUrl(config.store)) {
    report(await (await import('../store/pg/admin.js')).compactPg(config.store, before, opts.dryRun));
    return EX.OK;
  }
  const store = await Store.open(defaultPaths(config.store, config.outbox), { lock: !opts.dryRun, lockTimeoutMs: config.lockTimeoutMs });
  try {
    report(store.compact(before, opts.dryRun));
  } finally {
    await store.release();
  }
  return EX.OK;
}

import type { StageTimes } from './progress.js';
import chalk from 'chalk';
import type { TraceEntry } from '../engine/types.js';
import type { Result } from './result.js';
import { printable } from './terminal.js';

const MARK: Record<TraceEntry['result'], string> = {
  matched: chalk.green('✓'), applied: chalk.green('✓'), not_matched: chalk.red('✗'), failed: chalk.red('✗'),
  skipped: chalk.gray('–'), ignored: chalk.yellow('!'),
};

const HEADLINE: Record<Result['outcome'], (s: string) => string> = {
  request_created: chalk.green, note_added: chalk.cyan, unchanged: chalk.gray, rejected: chalk.yellow,
  duplicate: chalk.gray, failed: chalk.red,
};

/** Names the team of a created request, given a lookup for team names. */
export type TeamName = (id: number | null) => string | null;

export function renderResult(r: Result, explain: boolean, teamName: TeamName): string {
  const what =
    r.outcome === 'request_created' && r.request
      ? `created request #${r.request.id} "${r.request.subject}"${teamName(r.request.team) ? ` for team ${teamName(r.request.team)}` : ''}`
      : r.outcome === 'note_added' ? `added note to ${r.record?.type} #${r.record?.id}`
      : r.outcome === 'unchanged' ? `left ${r.record?.type} #${r.record?.id} unchanged`
      : r.outcome === 'rejected' ? `rejected: ${r.rejection?.reason}${r.rejection?.to ? ` (Email Rejected reply to ${r.rejection.to})` : ' (no reply sent)'}`
      : r.outcome === 'duplicate' ? `already processed${r.record ? ` (${r.record.type} #${r.record.id})` : ''}`
      : `failed: ${r.error?.status} ${r.error?.message}${r.error?.quarantined ? ` (saved to ${r.error.quarantined})` : ''}`;
  // Subjects, addresses and parameter values are the sender's: shown, never obeyed by the terminal.
  const lines = [`${HEADLINE[r.outcome](r.outcome.padEnd(15))} ${printable(what)} ${chalk.dim(printable(`[${r.rule}] ${r.input}`))}`];
  for (const w of r.warnings) lines.push(`  ${chalk.yellow('warning:')} ${printable(w)}`);
  if (explain) {
    for (const t of r.trace) lines.push(`  ${MARK[t.result]} ${t.rule.padEnd(30)} ${chalk.dim(printable(t.detail))}`);
    // The last word on a field: its default rule, or the parameter that set it (#team_id, #rfc, …).
    const why = (field: string) => r.trace.filter((t) => t.rule === `defaults.${field}` ||
      (t.rule.startsWith('parameters.') && t.result === 'applied' && t.detail.startsWith(`${field} = `))).at(-1);
    if (r.outcome === 'request_created') {
      for (const f of ['team', 'category']) {
        const t = why(f);
        const text = !t ? null : t.rule.startsWith('parameters.') ? `#${t.rule.slice('parameters.'.length)}: ${t.detail.slice(f.length + 3)}` : t.detail;
        if (text) lines.push(`  ${chalk.bold(`why this ${f}:`)} ${printable(text)}`);
      }
    }
  }
  return lines.join('\n');
}

export function renderSummary(counts: Record<string, number>, messages: number, seconds: number, times?: StageTimes): string {
  const order = ['request_created', 'note_added', 'unchanged', 'rejected', 'duplicate', 'failed'];
  const rate = seconds > 0 ? ` (${Math.round(messages / seconds)} messages/s)` : '';
  const rows = order.map((o) => `  ${o.padEnd(16)} ${String(counts[o] ?? 0).padStart(7)}`);
  const results = order.reduce((n, o) => n + (counts[o] ?? 0), 0);
  const perAddress = results !== messages ? `, ${results} results (one per inbound address)` : '';
  const lines = [`${chalk.bold(`${messages} message${messages === 1 ? '' : 's'}`)}${perAddress} in ${seconds.toFixed(1)} s${rate}`, ...rows];
  if (times) {
    const sum = times.totals.parse + times.totals.decide + times.totals.store || 1;
    const pct = (ms: number) => `${Math.round((ms / sum) * 100)}%`;
    lines.push(`  time: parsing ${pct(times.totals.parse)}, rules ${pct(times.totals.decide)}, store ${pct(times.totals.store)}`);
    if (times.slowest) lines.push(`  slowest message: ${times.slowest.input} (${Math.round(times.slowest.ms)} ms)`);
    const rule = times.slowestRule;
    if (rule) {
      lines.push(`  slowest rule: ${rule.rule} (${(rule.ms / rule.n).toFixed(3)} ms a time, ${rule.n} times, ${Math.round(rule.share * 100)}% of the rules' time)`);
    }
  }
  return lines.join('\n');
}

import type { StageTimes } from './progress.js';
import chalk from 'chalk';
import type { TraceEntry } from '../engine/types.js';
import type { Result } from './result.js';
import { printable } from './terminal.js';

// A rule that did not apply is no failure: only a refusal is a red ✗.
const MARK: Record<TraceEntry['result'], string> = {
  matched: chalk.green('✓'), applied: chalk.green('✓'), not_matched: chalk.gray('–'), failed: chalk.red('✗'),
  skipped: chalk.gray('–'), ignored: chalk.yellow('!'),
};

const HEADLINE: Record<Result['outcome'], (s: string) => string> = {
  request_created: chalk.green, note_added: chalk.cyan, unchanged: chalk.gray, rejected: chalk.yellow,
  duplicate: chalk.gray, failed: chalk.red,
};

/** What happened to the message, in words (what would happen, in a dry run). */
function outcomeText(r: Result, teamName: TeamName): string {
  const would = r.dry_run;
  const team = r.request ? teamName(r.request.team) : null;
  switch (r.outcome) {
    case 'request_created':
      return `${would ? 'would create' : 'created'} request #${r.request?.id} "${r.request?.subject}"${team ? ` for team ${team}` : ''}`;
    case 'note_added': return `${would ? 'would add' : 'added'} a note to ${r.record?.type} #${r.record?.id}`;
    case 'unchanged': return `${would ? 'would leave' : 'left'} ${r.record?.type} #${r.record?.id} unchanged`;
    case 'rejected':
      return `${would ? 'would reject' : 'rejected'}: ${r.rejection?.reason}${r.rejection?.to ? ` (Email Rejected reply ${would ? 'would go ' : ''}to ${r.rejection.to})` : ' (no reply)'}`;
    case 'duplicate': return `already processed${r.record ? ` (${r.record.type} #${r.record.id})` : ''}: nothing to do`;
    case 'failed': return `failed: ${r.error?.status} ${r.error?.message}${r.error?.quarantined ? ` (saved to ${r.error.quarantined})` : ''}`;
  }
}

/** The trace as --explain shows it, the entry at `deciding` marked. */
export function renderTrace(trace: readonly TraceEntry[], deciding: number): string[] {
  return trace.map((t, i) => {
    const rule = i === deciding ? chalk.bold(`${t.rule} ◀`.padEnd(30)) : t.rule.padEnd(30);
    return `  ${MARK[t.result]} ${rule} ${chalk.dim(printable(t.detail))}`;
  });
}

/** Names the team of a created request, given a lookup for team names. */
export type TeamName = (id: number | null) => string | null;

export function renderResult(r: Result, explain: boolean, teamName: TeamName): string {
  // Subjects, addresses and parameter values are the sender's: shown, never obeyed by the terminal.
  const lines = [`${HEADLINE[r.outcome](printable(outcomeText(r, teamName)))} ${chalk.dim(printable(`[${r.rule}] ${r.input}`))}`];
  for (const w of r.warnings) lines.push(`  ${chalk.yellow('warning:')} ${printable(w)}`);
  if (explain) {
    // The rule that decided the outcome stands out; its entry is the last of that name.
    const deciding = r.trace.map((t) => t.rule).lastIndexOf(r.rule);
    lines.push(...renderTrace(r.trace, deciding));
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

/** The batch summary (stderr); where the time went only with --verbose. */
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
      lines.push(`  slowest rule: ${rule.rule} (${(rule.ms / rule.n).toFixed(3)} ms a time, ${rule.n} time${rule.n === 1 ? '' : 's'}, ${Math.round(rule.share * 100)}% of the rules' time)`);
    }
  }
  return lines.join('\n');
}

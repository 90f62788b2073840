import { fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Ora } from 'ora';

/**
 * The batch spinner: stderr only, only on a terminal, only once a second message shows it
 * is a batch. ora is imported then, so a single pipe delivery never pays for it.
 */
export class Progress {
  private spinner: Ora | null = null;
  private starting = false;
  private last = 0;
  private readonly started = Date.now();

  private constructor(private readonly totalBytes: number | null) {}

  static async create(enabled: boolean, inputs: string[]): Promise<Progress | null> {
    // A terminal of zero columns (a bare pty) would make ora's line arithmetic loop forever.
    if (!enabled || !process.stderr.isTTY || !(process.stderr.columns > 0)) return null;
    // Results piped on (`| less`, `| grep`) are most likely shown on this same terminal: a
    // spinner there would draw over them. Into a file or a terminal, it stays out of the way.
    if (!process.stdout.isTTY && stdoutIsPipe()) return null;
    // An ETA is possible when every input is a file of known size.
    let total: number | null = 0;
    for (const input of inputs.length ? inputs : ['-']) {
      const s = input === '-' ? null : await stat(input).catch(() => null);
      total = s?.isFile() && total !== null ? total + s.size : null;
    }
    return new Progress(total);
  }

  async update(count: number, bytes: number): Promise<void> {
    if (count < 2) return;
    if (!this.spinner && !this.starting) {
      this.starting = true;
      const { default: ora } = await import('ora');
      this.spinner = ora({ stream: process.stderr, discardStdin: false }).start();
    }
    const now = Date.now();
    if (!this.spinner || now - this.last < 100) return;
    this.last = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? count / seconds : 0;
    let eta = '';
    if (this.totalBytes && bytes > 0 && bytes <= this.totalBytes) {
      const left = ((this.totalBytes - bytes) / bytes) * seconds;
      eta = `, about ${left < 60 ? `${Math.ceil(left)} s` : `${Math.ceil(left / 60)} min`} left`;
    }
    this.spinner.text = `${count} messages (${Math.round(rate)}/s${eta})`;
  }

  before(): void { this.spinner?.clear(); }
  after(): void { this.spinner?.render(); }

  stop(): void {
    this.spinner?.stop();
    this.spinner = null;
  }
}

function stdoutIsPipe(): boolean {
  try { return fstatSync(1).isFIFO() || fstatSync(1).isSocket(); } catch { return false; }
}

/** Where the time of a batch went, for the summary. */
export class StageTimes {
  readonly totals = { parse: 0, decide: 0, store: 0 };
  slowest: { input: string; ms: number } | null = null;

  add(stage: keyof StageTimes['totals'], ms: number): void {
    this.totals[stage] += ms;
  }

  message(input: string, ms: number): void {
    if (!this.slowest || ms > this.slowest.ms) this.slowest = { input, ms };
  }

  /** Time by rule, from a decision's trace and the ms spent reaching each of its entries. */
  readonly rules = new Map<string, { ms: number; n: number }>();
  rule(trace: readonly { rule: string }[], ms: readonly number[] | undefined): void {
    if (!ms) return;
    trace.forEach((t, i) => {
      const r = this.rules.get(t.rule) ?? { ms: 0, n: 0 };
      r.ms += ms[i] ?? 0;
      r.n++;
      this.rules.set(t.rule, r);
    });
  }

  get slowestRule(): { rule: string; ms: number; n: number; share: number } | null {
    let best: [string, { ms: number; n: number }] | null = null;
    let sum = 0;
    for (const e of this.rules) { sum += e[1].ms; if (!best || e[1].ms > best[1].ms) best = e; }
    return best ? { rule: best[0], ...best[1], share: sum ? best[1].ms / sum : 0 } : null;
  }
}

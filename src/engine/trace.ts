import type { TraceEntry, TraceResult } from './types.js';

/** Collects the trace and warnings of one decision, in the order rules ran. */
export class Trace {
  readonly entries: TraceEntry[] = [];
  readonly warnings: string[] = [];
  /** With a stopwatch: the time since the entry before, for each entry (the rule's cost). */
  readonly ms: number[] | undefined;
  private last = 0;

  constructor(private readonly tick?: () => number) {
    if (tick) { this.ms = []; this.last = tick(); }
  }

  add(rule: string, result: TraceResult, detail: string): void {
    this.entries.push({ rule, result, detail });
    this.timed();
  }

  /** A warning is also a trace entry, so --explain shows it where it arose. */
  warn(rule: string, message: string): void {
    this.warnings.push(message);
    this.entries.push({ rule, result: 'ignored', detail: message });
    this.timed();
  }

  private timed(): void {
    if (!this.tick) return;
    const t = this.tick();
    this.ms!.push(t - this.last);
    this.last = t;
  }
}

/** ISO 8601 with an explicit offset, as the store keeps times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', '+00:00').replace('Z', '+00:00');
}

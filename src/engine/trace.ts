import type { TraceEntry, TraceResult } from './types.js';

/** Collects the trace and warnings of one decision, in the order rules ran. */
export class Trace {
  readonly entries: TraceEntry[] = [];
  readonly warnings: string[] = [];

  add(rule: string, result: TraceResult, detail: string): void {
    this.entries.push({ rule, result, detail });
  }

  /** A warning is also a trace entry, so --explain shows it where it arose. */
  warn(rule: string, message: string): void {
    this.warnings.push(message);
    this.entries.push({ rule, result: 'ignored', detail: message });
  }
}

/** ISO 8601 with an explicit offset, as the store keeps times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', '+00:00').replace('Z', '+00:00');
}

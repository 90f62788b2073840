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

let lastMs = NaN;
let lastIso = '';

/** ISO 8601 with an explicit offset, as the store keeps times. (The clock's time is asked for many times: the last one is kept.) */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  const iso = new Date(ms).toISOString().replace('.000Z', '+00:00').replace('Z', '+00:00');
  lastMs = ms;
  lastIso = iso;
  return iso;
}

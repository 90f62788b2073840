import type { Decision, Outcome, TraceEntry } from '../engine/types.js';
import type { Note, RecordRef, Request } from '../store/schema.js';

/** One line of `--json` output (CONTRACT §4). */
export interface Result {
  input: string;
  message_id: string | null;
  recipient: string | null;
  outcome: Outcome;
  rule: string;
  record: RecordRef | null;
  request?: Request;
  note?: Note;
  rejection: Decision['rejection'];
  warnings: string[];
  trace: TraceEntry[];
  dry_run: boolean;
  /** For `failed`: the RFC 3463 status and where the message was saved. */
  error?: { status: string; message: string; quarantined: string | null };
}

export function resultOf(input: string, messageId: string | null, d: Decision, dryRun: boolean): Result {
  return {
    input, message_id: messageId, recipient: d.recipient || null,
    outcome: d.outcome, rule: d.rule, record: d.record,
    ...(d.request ? { request: d.request } : {}),
    ...(d.note ? { note: d.note } : {}),
    rejection: d.rejection, warnings: d.warnings, trace: d.trace, dry_run: dryRun,
  };
}

export function failedResult(input: string, rule: string, status: string, message: string, quarantined: string | null, dryRun: boolean): Result {
  return {
    input, message_id: null, recipient: null, outcome: 'failed', rule, record: null, rejection: null,
    warnings: [], trace: [{ rule, result: 'failed', detail: message }], dry_run: dryRun,
    error: { status, message, quarantined },
  };
}

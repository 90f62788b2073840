import type { OtherRecord, Person, RecordRef, RecordType, Request } from '../store/schema.js';
import { hasRole } from './context.js';
import type { StoreView } from './types.js';
import { accountScope, DAY } from './scope.js';

type AnyRecord = Request | OtherRecord;

const TASK_FINAL = ['completed', 'approved', 'rejected', 'failed', 'canceled'];
/** CONTRACT §3 "Final status", and the field its time counts from. */
export const FINAL: Record<RecordType, { statuses: string[]; since: 'completed_at' | 'solved_at' | 'finished_at'; word: string }> = {
  request: { statuses: ['completed'], since: 'completed_at', word: 'completed' },
  problem: { statuses: ['solved'], since: 'solved_at', word: 'solved' },
  release: { statuses: ['completed'], since: 'completed_at', word: 'completed' },
  workflow: { statuses: ['completed'], since: 'completed_at', word: 'completed' },
  workflow_task: { statuses: TASK_FINAL, since: 'finished_at', word: 'finished' },
  project: { statuses: ['completed'], since: 'completed_at', word: 'completed' },
  project_task: { statuses: TASK_FINAL, since: 'finished_at', word: 'finished' },
};

export function feedbackDays(view: StoreView, account: string): number {
  return view.account(account)?.provide_feedback_days ?? 28;
}

/** Write access: the Specialist role of the record's account, or for a request one of its people. */
export function hasWriteAccess(person: Person, type: RecordType, record: AnyRecord): boolean {
  if (hasRole(person, record.account, 'specialist')) return true;
  if (type !== 'request') return false;
  const r = record as Request;
  return [r.requested_by, r.requested_for, r.created_by].includes(person.id);
}

/**
 * CONTRACT §3 "May add a note": write access, or an enabled person of the record's accounts
 * for a request, a project task, or a workflow task that is an approval task (the spec:
 * "or (in case of an approval task)"); any other workflow task needs write access.
 */
export function mayAddNote(person: Person, type: RecordType, record: AnyRecord, view: StoreView): { ok: boolean; why: string } {
  if (hasWriteAccess(person, type, record)) return { ok: true, why: `person ${person.id} has write access` };
  const noWrite = `person ${person.id} has no write access to ${type} ${record.id}`;
  if (person.disabled || !['request', 'workflow_task', 'project_task'].includes(type)) return { ok: false, why: noWrite };
  if (type === 'workflow_task' && (record as OtherRecord).category !== 'approval') {
    return { ok: false, why: `${noWrite}, which is not an approval task` };
  }
  const accounts = new Set<string>([record.account]);
  if (type === 'request') {
    const rf = view.person((record as Request).requested_for);
    if (rf) accounts.add(rf.account);
  }
  for (const a of [...accounts]) for (const s of accountScope(view.account(a), a)) accounts.add(s);
  return accounts.has(person.account)
    ? { ok: true, why: `person ${person.id} is an enabled person of account ${person.account}` }
    : { ok: false, why: `person ${person.id} (account ${person.account}) has no access to ${type} ${record.id} of ${[...accounts].join('/')}` };
}

/**
 * The record has not been in its final status for more than <x> days, or its last visible
 * note is at most <x> days old. Returns null when it may take a note, else why not.
 */
export function tooLongInFinalStatus(type: RecordType, record: AnyRecord, view: StoreView, now: number): string | null {
  const final = FINAL[type];
  if (!final.statuses.includes(record.status)) return null;
  const days = feedbackDays(view, record.account);
  const sinceText = record[final.since] as string | null | undefined;
  const since = sinceText ? Date.parse(sinceText) : NaN;
  if (Number.isFinite(since) && now - since <= days * DAY) return null;
  const ref: RecordRef = { type, id: record.id };
  const lastVisible = view.notesOf(ref).filter((n) => !n.internal)
    .reduce((max, n) => Math.max(max, Date.parse(n.created_at) || 0), 0);
  if (lastVisible && now - lastVisible <= days * DAY) return null;
  const age = Number.isFinite(since) ? `${Math.floor((now - since) / DAY)} days` : 'an unknown time';
  return `${type} ${record.id} has been ${final.word} for ${age} (more than ${days}) and has no visible note of the last ${days} days`;
}

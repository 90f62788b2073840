import type { Request } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { DAY } from './scope.js';


export type EventMatch =
  | { rule: 'match.event' | 'match.event_without_ci'; request: Request; addNote: boolean; why: string }
  | null;

/**
 * Event matching: an open request created within the last 24 hours for the same event
 * takes the mail as a note (or is left unchanged), instead of a new request.
 */
export function matchEvent(ctx: MessageContext, candidate: Request, noteText: string, ciGiven: boolean): EventMatch {
  const { view, clock, trace, email } = ctx;
  const recent = (r: Request) => {
    const created = Date.parse(r.created_at);
    return r.status !== 'completed' && r.id !== candidate.id && created <= clock.now && clock.now - created <= DAY;
  };
  // Inline images (a monitoring tool's logo in every alert) are not what makes a repeat news.
  const hasAttachments = email.attachments.some((a) => !a.inline);
  const text = noteText.trim();

  if (ciGiven) {
    const rule = 'match.event';
    const found = latest(view.requestsByEvent(candidate).filter(recent));
    if (!found) {
      trace.add(rule, 'not_matched', `no open request of the last 24 hours with account ${candidate.account}, source ${candidate.source}, requested_for ${candidate.requested_for}, service instance ${candidate.service_instance ?? 'none'}, CI ${candidate.ci}`);
      return null;
    }
    const same = view.notesOf({ type: 'request', id: found.id }).some((n) => n.text.trim() === text);
    const addNote = hasAttachments || (text !== '' && !same);
    const why = hasAttachments ? 'the mail has attachments' : text === '' ? 'the body is blank' : same ? 'the same text is already a note' : 'the text is new';
    trace.add(rule, 'matched', `request ${found.id} (created ${found.created_at}) has the same event; ${why}`);
    return { rule, request: found, addNote, why };
  }

  const rule = 'match.event_without_ci';
  // A blank body left the first request without a note: no note is then the same note.
  const sameNote = (r: Request) => {
    const notes = view.notesOf({ type: 'request', id: r.id });
    return notes.some((n) => n.text.trim() === text) || (text === '' && notes.length === 0);
  };
  const found = latest(view.requestsBySubject(candidate).filter(recent).filter(sameNote));
  if (!found) {
    trace.add(rule, 'not_matched', `no open request of the last 24 hours with the same subject, note, account, source and requested_for`);
    return null;
  }
  const why = hasAttachments ? 'the mail has attachments' : 'same subject and note';
  trace.add(rule, 'matched', `request ${found.id} (created ${found.created_at}) has the same subject and note; ${why}`);
  return { rule, request: found, addNote: hasAttachments, why };
}

function latest(requests: Request[]): Request | undefined {
  return requests.reduce<Request | undefined>((best, r) => (!best || Date.parse(r.created_at) > Date.parse(best.created_at) ? r : best), undefined);
}

/**
 * The StoreView of a PostgreSQL store. The engine's StoreView is synchronous and the
 * database is not, so a message is decided against what is loaded: the reference data
 * (accounts, people, teams, ... : small, loaded once per process into a StoreIndex) and,
 * for the big collections, the answers fetched so far for this message. A lookup that has
 * no answer yet returns "nothing" and is recorded as a miss; the store fetches every miss
 * (one round trip) and decides again, until a decision makes no miss (./store.ts).
 */
import type { EventFields, StoreView } from '../../engine/types.js';
import type { StoreIndex } from '../indexes.js';
import type { InboundEntry, Note, Notification, OtherRecord, RecordRef, RecordType, Request } from '../schema.js';
import { eventKey, lower, subjectKey } from './rows.js';

type AnyRecord = Request | OtherRecord;

/** One lookup of a big collection, as the store fetches it. */
export type Lookup =
  | { kind: 'record'; type: string; id: number }
  | { kind: 'source'; type: string; source: string; sourceID: string }
  | { kind: 'notification'; messageId: string }
  | { kind: 'message'; messageId: string }
  | { kind: 'notes'; type: string; id: number }
  | { kind: 'inbound'; key: string }
  | { kind: 'event'; key: string }
  | { kind: 'subject'; key: string }
  | { kind: 'replies'; address: string; day: string };

export type IdKind = 'record' | 'note' | 'person';

/** A lookup's identity (the cache key). */
export function lookupKey(l: Lookup): string {
  switch (l.kind) {
    case 'record': case 'notes': return JSON.stringify([l.kind, l.type, l.id]);
    case 'source': return JSON.stringify([l.kind, l.type, l.source, l.sourceID]);
    case 'notification': case 'message': return JSON.stringify([l.kind, l.messageId]);
    case 'inbound': case 'event': case 'subject': return JSON.stringify([l.kind, l.key]);
    case 'replies': return JSON.stringify([l.kind, l.address, l.day]);
  }
}

const NONE: readonly never[] = Object.freeze([]);

export class MissView implements StoreView {
  /** Answers fetched for this message, by lookupKey. */
  readonly answers = new Map<string, unknown>();
  /** Every lookup asked (answered or not) for this message, by lookupKey. */
  readonly asked = new Map<string, Lookup>();
  /** Lookups asked in the last decision that had no answer. */
  misses = new Map<string, Lookup>();
  /** How many ledger entries each key had when it was fetched (the next entry's attempt). */
  readonly ledgerCounts = new Map<string, number>();
  /** New IDs allocated for this message's transaction; absent: provisional (a miss inside one). */
  readonly ids = new Map<IdKind, number>();
  idMisses = new Set<IdKind>();

  constructor(private ref: StoreIndex, private provisional: Record<IdKind, number>) {}

  /** Starts a new decision round: forgets the misses of the last one. */
  round(): void {
    this.misses = new Map();
    this.idMisses = new Set();
  }

  private ask<T>(l: Lookup, none: T): T {
    const key = lookupKey(l);
    this.asked.set(key, l);
    if (this.answers.has(key)) return this.answers.get(key) as T;
    this.misses.set(key, l);
    return none;
  }

  account(id: string) { return this.ref.account(id); }
  person(id: number) { return this.ref.person(id); }
  peopleByPrimaryEmail(email: string) { return this.ref.peopleByPrimaryEmail(email); }
  peopleByOtherEmail(email: string) { return this.ref.peopleByOtherEmail(email); }
  team(id: number) { return this.ref.team(id); }
  teamByLocalPart(account: string, localPart: string) { return this.ref.teamByLocalPart(account, localPart); }
  teamByName(account: string, name: string) { return this.ref.teamByName(account, name); }
  teamsOfMember(person: number) { return this.ref.teamsOfMember(person); }
  organization(id: number) { return this.ref.organization(id); }
  organizationByName(account: string, name: string) { return this.ref.organizationByName(account, name); }
  serviceInstance(id: number) { return this.ref.serviceInstance(id); }
  serviceInstanceByName(account: string, name: string) { return this.ref.serviceInstanceByName(account, name); }
  ci(id: number) { return this.ref.ci(id); }
  ciByLabelOrName(account: string, labelOrName: string) { return this.ref.ciByLabelOrName(account, labelOrName); }
  cisBySource(account: string, source: string | null, sourceID: string) { return this.ref.cisBySource(account, source, sourceID); }
  agreementCovering(account: string, covered: string) { return this.ref.agreementCovering(account, covered); }
  workflowTemplate(id: number) { return this.ref.workflowTemplate(id); }
  requestTemplate(id: number) { return this.ref.requestTemplate(id); }

  record(type: 'request', id: number): Request | undefined;
  record(type: RecordType, id: number): AnyRecord | undefined;
  record(type: RecordType, id: number) {
    if (!Number.isSafeInteger(id)) return undefined;
    return this.ask<AnyRecord | null>({ kind: 'record', type, id }, null) ?? undefined;
  }
  recordsBySource(type: RecordType, source: string, sourceID: string) {
    return this.ask<readonly AnyRecord[]>({ kind: 'source', type, source, sourceID }, NONE);
  }
  notification(messageId: string) {
    return this.ask<Notification | null>({ kind: 'notification', messageId }, null) ?? undefined;
  }
  requestOfMessage(messageId: string) {
    return this.ask<RecordRef | null>({ kind: 'message', messageId }, null) ?? undefined;
  }
  notesOf(ref: RecordRef) {
    if (!Number.isSafeInteger(ref.id)) return NONE;
    return this.ask<readonly Note[]>({ kind: 'notes', type: ref.type, id: ref.id }, NONE);
  }
  inbound(key: string) { return this.ask<InboundEntry | null>({ kind: 'inbound', key }, null) ?? undefined; }
  requestsByEvent(e: EventFields) {
    return this.ask<readonly Request[]>({ kind: 'event', key: eventKey(e as unknown as Record<string, unknown>) }, NONE);
  }
  requestsBySubject(e: EventFields) {
    return this.ask<readonly Request[]>({ kind: 'subject', key: subjectKey(e as unknown as Record<string, unknown>) }, NONE);
  }
  autoRepliesTo(address: string, day: string) {
    return this.ask<number>({ kind: 'replies', address: lower(address), day }, 0);
  }

  private id(kind: IdKind): number {
    const got = this.ids.get(kind);
    if (got !== undefined) return got;
    this.idMisses.add(kind);
    return this.provisional[kind];
  }
  nextRecordId() { return this.id('record'); }
  nextNoteId() { return this.id('note'); }
  nextPersonId() { return this.id('person'); }
}

import type { EventFields, StoreView } from '../engine/types.js';
import {
  COLLECTION, RECORD_TYPES,
  type Account, type AutoReply, type ConfigurationItem, type FirstLineSupportAgreement, type InboundEntry, type Note,
  type Notification, type Organization, type OtherRecord, type Person, type RecordRef, type RecordType, type Request,
  type RequestTemplate, type ServiceInstance, type StoreData, type Team, type WorkflowTemplate,
} from './schema.js';

type AnyRecord = Request | OtherRecord;
const NONE: readonly never[] = Object.freeze([]);
const k = (...parts: (string | number | null | undefined)[]) => parts.map((p) => p ?? '').join('\u0000');
const lower = (s: string | null | undefined) => (s ?? '').trim().toLowerCase();

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value); else map.set(key, [value]);
}

/**
 * Every lookup the engine makes, built once from the store and kept current as decisions
 * are applied, so that no message costs a scan of the store.
 */
export class StoreIndex implements StoreView {
  private accounts = new Map<string, Account>();
  private people = new Map<number, Person>();
  private byPrimary = new Map<string, Person[]>();
  private byOther = new Map<string, Person[]>();
  private teams = new Map<number, Team>();
  private teamsByLocal = new Map<string, Team>();
  private teamsByName = new Map<string, Team>();
  private memberTeams = new Map<number, Team[]>();
  private organizations = new Map<number, Organization>();
  private organizationsByName = new Map<string, Organization>();
  private services = new Map<number, ServiceInstance>();
  private servicesByName = new Map<string, ServiceInstance>();
  private cis = new Map<number, ConfigurationItem>();
  private cisByLabel = new Map<string, ConfigurationItem>();
  private cisBySourceKey = new Map<string, ConfigurationItem[]>();
  private agreements = new Map<string, FirstLineSupportAgreement>();
  private workflowTemplates = new Map<number, WorkflowTemplate>();
  private requestTemplates = new Map<number, RequestTemplate>();
  private records = new Map<RecordType, Map<number, AnyRecord>>();
  private recordsBySourceKey = new Map<string, AnyRecord[]>();
  private notifications = new Map<string, Notification>();
  private messageRequests = new Map<string, RecordRef>();
  private notes = new Map<string, Note[]>();
  private ledger = new Map<string, InboundEntry>();
  private events = new Map<string, Request[]>();
  private subjects = new Map<string, Request[]>();
  private replies = new Map<string, number>();
  private maxRecordId = 99999;
  private maxNoteId = 900000;
  private maxPersonId = 0;

  constructor(data: StoreData) {
    for (const a of data.accounts) this.accounts.set(a.id, a);
    for (const p of data.people) this.addPerson(p);
    for (const t of data.teams) {
      this.teams.set(t.id, t);
      if (t.email_local_part) this.teamsByLocal.set(k(t.account, lower(t.email_local_part)), t);
      if (!this.teamsByName.has(k(t.account, lower(t.name)))) this.teamsByName.set(k(t.account, lower(t.name)), t);
      for (const m of t.members ?? []) push(this.memberTeams, m, t);
    }
    for (const o of data.organizations) {
      this.organizations.set(o.id, o);
      this.organizationsByName.set(k(o.account, lower(o.name)), o);
    }
    for (const s of data.service_instances) {
      this.services.set(s.id, s);
      this.servicesByName.set(k(s.account, lower(s.name)), s);
    }
    for (const c of data.configuration_items) {
      this.cis.set(c.id, c);
      this.cisByLabel.set(k(c.account, lower(c.label)), c);
      if (c.software && c.name) this.cisByLabel.set(k(c.account, lower(c.name)), c);
      if (c.sourceID) {
        push(this.cisBySourceKey, k(c.account, c.source, c.sourceID), c);
        push(this.cisBySourceKey, k(c.account, '\u0001any', c.sourceID), c);
      }
    }
    for (const f of data.first_line_support_agreements) {
      for (const covered of f.covers ?? []) if (!this.agreements.has(covered)) this.agreements.set(covered, f);
    }
    for (const w of data.workflow_templates) this.workflowTemplates.set(w.id, w);
    for (const r of data.request_templates) this.requestTemplates.set(r.id, r);
    for (const type of RECORD_TYPES) {
      this.records.set(type, new Map());
      for (const r of (data[COLLECTION[type]] ?? []) as AnyRecord[]) this.addRecord(type, r);
    }
    for (const n of data.notes) this.addNote(n);
    for (const n of data.notifications) this.addNotification(n);
    for (const e of data.inbound) this.addInbound(e);
    for (const r of data.auto_replies ?? []) this.addAutoReply(r);
  }

  addPerson(p: Person): void {
    this.people.set(p.id, p);
    if (p.primary_email) push(this.byPrimary, lower(p.primary_email), p);
    for (const e of p.emails ?? []) push(this.byOther, lower(e), p);
    if (p.id > this.maxPersonId) this.maxPersonId = p.id;
  }

  addRecord(type: RecordType, r: AnyRecord): void {
    this.records.get(type)!.set(r.id, r);
    if (r.id > this.maxRecordId) this.maxRecordId = r.id;
    if (r.source && r.sourceID) push(this.recordsBySourceKey, k(type, r.source, r.sourceID), r);
    if (type !== 'request') return;
    const req = r as Request;
    if (req.message_id) this.messageRequests.set(req.message_id, { type: 'request', id: req.id });
    push(this.events, eventKey(req), req);
    push(this.subjects, subjectKey(req), req);
  }

  addNote(n: Note): void {
    push(this.notes, k(n.record.type, n.record.id), n);
    if (n.id > this.maxNoteId) this.maxNoteId = n.id;
    if (n.message_id && n.record.type === 'request' && !this.messageRequests.has(n.message_id)) {
      this.messageRequests.set(n.message_id, n.record);
    }
  }

  addNotification(n: Notification): void { this.notifications.set(n.message_id, n); }
  addInbound(e: InboundEntry): void { this.ledger.set(e.key, e); }
  addAutoReply(r: AutoReply): void {
    const key = k(lower(r.to), r.sent_at.slice(0, 10));
    this.replies.set(key, (this.replies.get(key) ?? 0) + 1);
  }

  account(id: string) { return this.accounts.get(id); }
  person(id: number) { return this.people.get(id); }
  peopleByPrimaryEmail(email: string) { return this.byPrimary.get(lower(email)) ?? NONE; }
  peopleByOtherEmail(email: string) { return this.byOther.get(lower(email)) ?? NONE; }
  team(id: number) { return this.teams.get(id); }
  teamByLocalPart(account: string, localPart: string) { return this.teamsByLocal.get(k(account, lower(localPart))); }
  teamByName(account: string, name: string) { return this.teamsByName.get(k(account, lower(name))); }
  teamsOfMember(person: number) { return this.memberTeams.get(person) ?? NONE; }
  organization(id: number) { return this.organizations.get(id); }
  organizationByName(account: string, name: string) { return this.organizationsByName.get(k(account, lower(name))); }
  serviceInstance(id: number) { return this.services.get(id); }
  serviceInstanceByName(account: string, name: string) { return this.servicesByName.get(k(account, lower(name))); }
  ci(id: number) { return this.cis.get(id); }
  ciByLabelOrName(account: string, labelOrName: string) { return this.cisByLabel.get(k(account, lower(labelOrName))); }
  cisBySource(account: string, source: string | null, sourceID: string) {
    return this.cisBySourceKey.get(k(account, source ?? '\u0001any', sourceID)) ?? NONE;
  }
  agreementCovering(account: string) { return this.agreements.get(account); }
  workflowTemplate(id: number) { return this.workflowTemplates.get(id); }
  requestTemplate(id: number) { return this.requestTemplates.get(id); }
  record(type: 'request', id: number): Request | undefined;
  record(type: RecordType, id: number): AnyRecord | undefined;
  record(type: RecordType, id: number) { return this.records.get(type)?.get(id); }
  recordsBySource(type: RecordType, source: string, sourceID: string) {
    return this.recordsBySourceKey.get(k(type, source, sourceID)) ?? NONE;
  }
  notification(messageId: string) { return this.notifications.get(messageId); }
  requestOfMessage(messageId: string) { return this.messageRequests.get(messageId); }
  notesOf(ref: RecordRef) { return this.notes.get(k(ref.type, ref.id)) ?? NONE; }
  inbound(key: string) { return this.ledger.get(key); }
  requestsByEvent(e: EventFields) { return this.events.get(eventKey(e)) ?? NONE; }
  requestsBySubject(e: EventFields) { return this.subjects.get(subjectKey(e)) ?? NONE; }
  autoRepliesTo(address: string, day: string) { return this.replies.get(k(lower(address), day)) ?? 0; }
  nextRecordId() { return this.maxRecordId + 1; }
  nextNoteId() { return this.maxNoteId + 1; }
  nextPersonId() { return this.maxPersonId + 1; }
}

function eventKey(e: Pick<EventFields, 'account' | 'source' | 'requested_for' | 'service_instance' | 'ci'>): string {
  return k(e.account, e.source, e.requested_for, e.service_instance, e.ci);
}
function subjectKey(e: Pick<EventFields, 'account' | 'source' | 'requested_for' | 'subject'>): string {
  return k(e.account, e.source, e.requested_for, e.subject.trim());
}

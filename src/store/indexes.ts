import type { EventFields, StoreView } from '../engine/types.js';
import {
  ARRAY_COLLECTIONS, COLLECTION, RECORD_TYPES,
  type Account, type AutoReply, type ConfigurationItem, type FirstLineSupportAgreement, type InboundEntry, type Note,
  type Notification, type Organization, type OtherRecord, type Person, type RecordRef, type RecordType, type Request,
  type RequestTemplate, type ServiceInstance, type StoreData, type Team, type WorkflowTemplate,
} from './schema.js';
import { CountMap, ListMap, ValueMap } from './lookups.js';
import { type RowReader, Table } from './table.js';

type AnyRecord = Request | OtherRecord;
export type Collection = typeof ARRAY_COLLECTIONS[number];
type Row = Record<string, unknown>;
export type Tables = Record<Collection, Table<Row>>;

const NONE: readonly never[] = Object.freeze([]);
const k = (...parts: (string | number | null | undefined)[]) => parts.map((p) => p ?? '').join('\u0000');
const lower = (s: string | null | undefined) => (s ?? '').trim().toLowerCase();

/** Collections whose rows are all kept parsed: the reference data every message looks up. */
export const RESIDENT: ReadonlySet<Collection> = new Set<Collection>([
  'accounts', 'people', 'teams', 'organizations', 'service_instances', 'configuration_items',
  'first_line_support_agreements', 'workflow_templates', 'request_templates',
]);

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value); else map.set(key, [value]);
}

/**
 * The lookups over the big collections, by row position: what a saved index holds. The
 * ListMaps are keyed by a hash of the key: a lookup keeps the rows whose own key matches.
 */
interface Lookups {
  /** Record ID → position, per record type. */
  records: Record<RecordType, ValueMap<number, number>>;
  /** source + sourceID → positions, per record type. */
  sources: Record<RecordType, ListMap>;
  /** Message-ID → positions of the requests it created. */
  requestMessages: ListMap;
  /** Message-ID → positions of the notes it added to requests. */
  noteMessages: ListMap;
  /** record → note positions. */
  notes: ListMap;
  /** Message-ID → notification positions. */
  notifications: ListMap;
  /** key → inbound positions. */
  ledger: ListMap;
  events: ListMap;
  subjects: ListMap;
  replies: CountMap<string>;
}

/** Collections whose rows the lookups index. */
const INDEXED: readonly Collection[] = [...RECORD_TYPES.map((t) => COLLECTION[t]), 'notes', 'notifications', 'inbound', 'auto_replies'];

/**
 * The lookups as saved beside a large store: each map's entries as JSON text (parsed when
 * first used), and how many rows of each collection they cover. Rows added after that are
 * indexed again when the store is opened, so saving after a delivery need not serialise
 * the maps again.
 */
export interface SavedLookups {
  rows: Partial<Record<Collection, number>>;
  maxRecordId: number;
  maxNoteId: number;
  /** Map name → its JSON text (in pieces, when written). */
  sections: Record<string, string | string[]>;
}

/** Rows added since the saved maps beyond which saving serialises the maps again. */
const RESAVE_ROWS = 256;

/**
 * Tables (and saved lookups, if any) to build an index over, instead of store data in memory.
 * A class so that `instanceof` tells it from store data, which is untrusted JSON.
 */
export class IndexSource {
  constructor(readonly tables: Tables, readonly saved: SavedLookups | null) {}
}

/** Tables over the arrays of store data held in memory; `reader` reads rows once they are in a file. */
export function tablesOf(data: StoreData, reader: RowReader | null): Tables {
  const t = {} as Tables;
  for (const c of ARRAY_COLLECTIONS) t[c] = new Table<Row>(c, (data[c] ?? []) as unknown as Row[], reader, RESIDENT.has(c));
  return t;
}

/**
 * Every lookup the engine makes, built once from the store and kept current as decisions
 * are applied, so that no message costs a scan of the store. The big collections (records,
 * notes, notifications, the inbound ledger) are indexed by row position in their `Table`,
 * and a row is parsed only when a lookup returns it.
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
  private maxPersonId = 0;
  private maxRecordId = 99999;
  private maxNoteId = 900000;
  private saved: SavedLookups | null = null;
  private lookups: Lookups;
  readonly tables: Tables;

  /**
   * From store data in memory (every row parsed), or from tables and, when the store was
   * saved with them, its lookups (rows read from the file when asked for).
   */
  constructor(data: StoreData | IndexSource) {
    this.tables = data instanceof IndexSource ? data.tables : tablesOf(data, null);
    const t = this.tables;
    const all = <T>(c: Collection) => t[c].all() as unknown as T[];
    for (const a of all<Account>('accounts')) this.accounts.set(a.id, a);
    for (const p of all<Person>('people')) this.indexPerson(p);
    for (const team of all<Team>('teams')) {
      this.teams.set(team.id, team);
      if (team.email_local_part) this.teamsByLocal.set(k(team.account, lower(team.email_local_part)), team);
      if (!this.teamsByName.has(k(team.account, lower(team.name)))) this.teamsByName.set(k(team.account, lower(team.name)), team);
      for (const m of team.members ?? []) push(this.memberTeams, m, team);
    }
    for (const o of all<Organization>('organizations')) {
      this.organizations.set(o.id, o);
      this.organizationsByName.set(k(o.account, lower(o.name)), o);
    }
    for (const s of all<ServiceInstance>('service_instances')) {
      this.services.set(s.id, s);
      this.servicesByName.set(k(s.account, lower(s.name)), s);
    }
    for (const c of all<ConfigurationItem>('configuration_items')) {
      this.cis.set(c.id, c);
      this.cisByLabel.set(k(c.account, lower(c.label)), c);
      if (c.software && c.name) this.cisByLabel.set(k(c.account, lower(c.name)), c);
      if (c.sourceID) {
        push(this.cisBySourceKey, k(c.account, c.source, c.sourceID), c);
        push(this.cisBySourceKey, k(c.account, '\u0001any', c.sourceID), c);
      }
    }
    for (const f of all<FirstLineSupportAgreement>('first_line_support_agreements')) {
      for (const covered of f.covers ?? []) if (!this.agreements.has(k(f.account, covered))) this.agreements.set(k(f.account, covered), f);
    }
    for (const w of all<WorkflowTemplate>('workflow_templates')) this.workflowTemplates.set(w.id, w);
    for (const r of all<RequestTemplate>('request_templates')) this.requestTemplates.set(r.id, r);

    const saved = data instanceof IndexSource ? data.saved : null;
    const text = (name: string) => {
      const t = saved?.sections[name];
      return t === undefined ? null : typeof t === 'string' ? t : t.join('');
    };
    this.lookups = {
      records: Object.fromEntries(RECORD_TYPES.map((type) => [type, new ValueMap<number, number>(text(`records.${type}`))])) as Lookups['records'],
      sources: Object.fromEntries(RECORD_TYPES.map((type) => [type, new ListMap(text(`sources.${type}`))])) as Lookups['sources'],
      requestMessages: new ListMap(text('request_messages')), noteMessages: new ListMap(text('note_messages')), notes: new ListMap(text('notes')), notifications: new ListMap(text('notifications')),
      ledger: new ListMap(text('ledger')), events: new ListMap(text('events')), subjects: new ListMap(text('subjects')),
      replies: new CountMap(text('replies')),
    };
    if (saved) {
      this.maxRecordId = saved.maxRecordId;
      this.maxNoteId = saved.maxNoteId;
      this.saved = saved;
    }
    // Every row (or, from a saved index, every row added since it was saved), in the same order.
    const from = (c: Collection) => saved?.rows[c] ?? 0;
    for (const type of RECORD_TYPES) {
      const table = t[COLLECTION[type]];
      for (let i = from(COLLECTION[type]); i < table.count; i++) this.indexRecord(type, i, table.get(i) as AnyRecord);
    }
    for (let i = from('notes'); i < t.notes.count; i++) this.indexNote(i, t.notes.get(i) as unknown as Note);
    for (let i = from('notifications'); i < t.notifications.count; i++) this.indexNotification(i, t.notifications.get(i) as unknown as Notification);
    for (let i = from('inbound'); i < t.inbound.count; i++) this.indexInbound(i, t.inbound.get(i) as unknown as InboundEntry);
    for (let i = from('auto_replies'); i < t.auto_replies.count; i++) this.indexAutoReply(t.auto_replies.get(i) as unknown as AutoReply);
  }

  // ---- changes (Store.apply) ----

  addPerson(p: Person): void {
    this.tables.people.push(p as unknown as Row);
    this.indexPerson(p);
  }

  addRecord(type: RecordType, r: AnyRecord): void {
    this.indexRecord(type, this.tables[COLLECTION[type]].push(r as Row), r);
  }

  addNote(n: Note): void { this.indexNote(this.tables.notes.push(n as unknown as Row), n); }
  addNotification(n: Notification): void { this.indexNotification(this.tables.notifications.push(n as unknown as Row), n); }
  addInbound(e: InboundEntry): void { this.indexInbound(this.tables.inbound.push(e as unknown as Row), e); }
  addAutoReply(r: AutoReply): void {
    this.tables.auto_replies.push(r as unknown as Row);
    this.indexAutoReply(r);
  }

  /** A note updates its record's `updated_at`, as the platform does. */
  touchRecord(ref: RecordRef, updatedAt: string): void {
    const pos = this.lookups.records[ref.type]?.get(ref.id);
    if (pos === undefined) return;
    const table = this.tables[COLLECTION[ref.type]];
    const rec = table.get(pos);
    if (!('updated_at' in rec)) return;
    rec.updated_at = updatedAt;
    table.touched(pos, rec);
  }

  /**
   * The lookups as saved beside a large store: the maps as they were read, when few rows were
   * added since (those are indexed again on opening), else every map serialised anew.
   */
  saveLookups(): SavedLookups {
    const rows: Partial<Record<Collection, number>> = {};
    let added = 0;
    for (const c of INDEXED) {
      rows[c] = this.tables[c].count;
      added += this.tables[c].count - (this.saved?.rows[c] ?? 0);
    }
    const maps: [string, { savedText: string | null; toText(): string[] }][] = [
      ...RECORD_TYPES.map((type) => [`records.${type}`, this.lookups.records[type]] as [string, ValueMap<number, number>]),
      ...RECORD_TYPES.map((type) => [`sources.${type}`, this.lookups.sources[type]] as [string, ListMap]),
      ['request_messages', this.lookups.requestMessages], ['note_messages', this.lookups.noteMessages], ['notes', this.lookups.notes], ['notifications', this.lookups.notifications],
      ['ledger', this.lookups.ledger], ['events', this.lookups.events], ['subjects', this.lookups.subjects], ['replies', this.lookups.replies],
    ];
    if (this.saved && added <= RESAVE_ROWS && maps.every(([, m]) => m.savedText !== null)) return this.saved;
    const sections: Record<string, string[]> = {};
    for (const [name, m] of maps) sections[name] = m.toText();
    return { rows, maxRecordId: this.maxRecordId, maxNoteId: this.maxNoteId, sections };
  }

  private indexPerson(p: Person): void {
    this.people.set(p.id, p);
    if (p.primary_email) push(this.byPrimary, lower(p.primary_email), p);
    for (const e of p.emails ?? []) push(this.byOther, lower(e), p);
    if (p.id > this.maxPersonId) this.maxPersonId = p.id;
  }

  private indexRecord(type: RecordType, pos: number, r: AnyRecord): void {
    const x = this.lookups;
    x.records[type].set(r.id, pos);
    if (r.id > this.maxRecordId) this.maxRecordId = r.id;
    if (r.source && r.sourceID) x.sources[type].push(k(r.source, r.sourceID), pos);
    if (type !== 'request') return;
    const req = r as Request;
    if (req.message_id) x.requestMessages.push(req.message_id, pos);
    x.events.push(eventKey(req), pos);
    x.subjects.push(subjectKey(req), pos);
  }

  private indexNote(pos: number, n: Note): void {
    const x = this.lookups;
    x.notes.push(k(n.record.type, n.record.id), pos);
    if (n.id > this.maxNoteId) this.maxNoteId = n.id;
    if (n.message_id && n.record.type === 'request') x.noteMessages.push(n.message_id, pos);
  }

  private indexNotification(pos: number, n: Notification): void { this.lookups.notifications.push(n.message_id, pos); }
  private indexInbound(pos: number, e: InboundEntry): void { this.lookups.ledger.push(e.key, pos); }
  private indexAutoReply(r: AutoReply): void { this.lookups.replies.add(k(lower(r.to), r.sent_at.slice(0, 10)), 1); }

  /** The rows at `positions` whose own key (`keyOf`) is `key`: the others only share its hash. */
  private rows<T>(c: Collection, positions: readonly number[], key: string, keyOf: (row: T) => string): readonly T[] {
    if (!positions.length) return NONE;
    const table = this.tables[c];
    const out: T[] = [];
    for (const i of positions) {
      const row = table.get(i) as unknown as T;
      if (keyOf(row) === key) out.push(row);
    }
    return out;
  }

  /** The last row at `positions` (the one a map set last) whose `field` is `value`. */
  private last<T extends object>(c: Collection, positions: readonly number[], field: keyof T, value: string): T | undefined {
    const table = this.tables[c];
    for (let n = positions.length - 1; n >= 0; n--) {
      const row = table.get(positions[n]!) as unknown as T;
      if (row[field] === value) return row;
    }
    return undefined;
  }

  // ---- lookups (StoreView) ----

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
  agreementCovering(account: string, covered: string) { return this.agreements.get(k(account, covered)); }
  workflowTemplate(id: number) { return this.workflowTemplates.get(id); }
  requestTemplate(id: number) { return this.requestTemplates.get(id); }
  record(type: 'request', id: number): Request | undefined;
  record(type: RecordType, id: number): AnyRecord | undefined;
  record(type: RecordType, id: number) {
    // The type may come from a row of the store (a notification's record): data, not a key of ours.
    const pos = Object.hasOwn(this.lookups.records, type) ? this.lookups.records[type].get(id) : undefined;
    return pos === undefined ? undefined : this.tables[COLLECTION[type]].get(pos) as AnyRecord;
  }
  recordsBySource(type: RecordType, source: string, sourceID: string) {
    const key = k(source, sourceID);
    return this.rows<AnyRecord>(COLLECTION[type], this.lookups.sources[type].get(key), key, (r) => k(r.source, r.sourceID));
  }
  notification(messageId: string) {
    return this.last<Notification>('notifications', this.lookups.notifications.get(messageId), 'message_id', messageId);
  }
  /** The last request created by this message, else the request of the first note it added. */
  requestOfMessage(messageId: string): RecordRef | undefined {
    const request = this.last<Request>('requests', this.lookups.requestMessages.get(messageId), 'message_id', messageId);
    if (request) return { type: 'request', id: request.id };
    return this.rows<Note>('notes', this.lookups.noteMessages.get(messageId), messageId, (n) => n.message_id ?? '')[0]?.record;
  }
  notesOf(ref: RecordRef) {
    const key = k(ref.type, ref.id);
    return this.rows<Note>('notes', this.lookups.notes.get(key), key, (n) => k(n.record.type, n.record.id));
  }
  inbound(key: string) { return this.last<InboundEntry>('inbound', this.lookups.ledger.get(key), 'key', key); }
  requestsByEvent(e: EventFields) { const key = eventKey(e); return this.rows<Request>('requests', this.lookups.events.get(key), key, eventKey); }
  requestsBySubject(e: EventFields) { const key = subjectKey(e); return this.rows<Request>('requests', this.lookups.subjects.get(key), key, subjectKey); }
  autoRepliesTo(address: string, day: string) { return this.lookups.replies.get(k(lower(address), day)) ?? 0; }
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


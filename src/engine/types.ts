import type {
  Account, ConfigurationItem, FirstLineSupportAgreement, InboundEntry, Note, Notification, Organization,
  OtherRecord, Person, RecordRef, RecordType, Request, RequestTemplate, ServiceInstance, Team, WorkflowTemplate,
} from '../store/schema.js';

/** What the engine may ask of the store: every lookup is an index, never a scan. */
export interface StoreView {
  account(id: string): Account | undefined;
  person(id: number): Person | undefined;
  /** People whose primary email is this address (lower-case), any account. */
  peopleByPrimaryEmail(email: string): readonly Person[];
  /** People with this address among their other emails (lower-case), any account. */
  peopleByOtherEmail(email: string): readonly Person[];
  team(id: number): Team | undefined;
  teamByLocalPart(account: string, localPart: string): Team | undefined;
  teamByName(account: string, name: string): Team | undefined;
  /** Teams the person is a member of. */
  teamsOfMember(person: number): readonly Team[];
  organization(id: number): Organization | undefined;
  organizationByName(account: string, name: string): Organization | undefined;
  serviceInstance(id: number): ServiceInstance | undefined;
  serviceInstanceByName(account: string, name: string): ServiceInstance | undefined;
  ci(id: number): ConfigurationItem | undefined;
  /** A CI by label, or a software CI by name. */
  ciByLabelOrName(account: string, labelOrName: string): ConfigurationItem | undefined;
  cisBySource(account: string, source: string | null, sourceID: string): readonly ConfigurationItem[];
  /** The first line support agreement of `account` that covers `covered`. */
  agreementCovering(account: string, covered: string): FirstLineSupportAgreement | undefined;
  workflowTemplate(id: number): WorkflowTemplate | undefined;
  requestTemplate(id: number): RequestTemplate | undefined;
  record(type: 'request', id: number): Request | undefined;
  record(type: RecordType, id: number): Request | OtherRecord | undefined;
  recordsBySource(type: RecordType, source: string, sourceID: string): readonly (Request | OtherRecord)[];
  notification(messageId: string): Notification | undefined;
  /** The request a message created or was added to as a note. */
  requestOfMessage(messageId: string): RecordRef | undefined;
  notesOf(ref: RecordRef): readonly Note[];
  inbound(key: string): InboundEntry | undefined;
  /** Requests with the same account, source, requested_for, service_instance and ci, oldest first. */
  requestsByEvent(event: EventFields): readonly Request[];
  /** Requests with the same account, source, requested_for and subject, oldest first. */
  requestsBySubject(event: EventFields): readonly Request[];
  /** Automatic replies already sent to this address on this UTC day (YYYY-MM-DD). */
  autoRepliesTo(address: string, day: string): number;
  nextRecordId(): number;
  nextNoteId(): number;
  nextPersonId(): number;
}

/** The fields event matching compares. */
export interface EventFields {
  account: string; source: string | null; requested_for: number;
  service_instance: number | null; ci: number | null; subject: string;
}

/** Settings from the configuration that steer decisions. */
export interface Policy {
  mailDomains: string[];
  /** Lower-case address → inbound address it stands for. */
  aliases: Record<string, string>;
  trustedAuthservIds: string[];
  /** The envelope recipient (--recipient / local(8) environment), lower-case; null: from the headers. */
  envelopeRecipient: string | null;
  /** Send an acknowledgement notification for each new request. */
  acknowledgements: boolean;
  maxAutoRepliesPerDay: number;
  maxAttachments: number;
  /** "dmarc": #parameters only from a message with a trusted dmarc=pass; absent or "any": from any Specialist. */
  parameterTrust?: 'any' | 'dmarc';
  /** Folder of attachment files, relative to the store's folder (`<store>.files`). */
  filesDir: string;
  /** --reprocess: a message the ledger has as rejected is decided again, not a duplicate. */
  reprocess?: boolean;
  /** "none": this run writes no automatic reply at all (a replay of old mail); absent: "queue". */
  replies?: 'queue' | 'none';
}

/** The injected clock: the instant a message is processed at, in ms. */
export interface Clock {
  now: number;
  /**
   * A stopwatch (ms), given only to measure how long each rule takes (the batch summary's
   * slowest rule). It never changes a decision; without it nothing is timed.
   */
  tick?: () => number;
}

export type TraceResult = 'matched' | 'not_matched' | 'applied' | 'skipped' | 'ignored' | 'failed';
export interface TraceEntry { rule: string; result: TraceResult; detail: string }

export type Outcome = 'request_created' | 'note_added' | 'unchanged' | 'rejected' | 'duplicate' | 'failed';

export interface Rejection { reason: string; template: 'email_rejected'; to: string | null }

/** An automatic message the store writes to the outbox (an Email Rejected reply or an acknowledgement). */
export interface OutgoingMail {
  kind: 'email_rejected' | 'acknowledgement';
  messageId: string;
  to: string;
  from: string;
  subject: string;
  inReplyTo: string | null;
  references: string[];
  text: string;
  date: string;
}

export interface Decision {
  outcome: Outcome;
  rule: string;
  record: RecordRef | null;
  /** The inbound address the message was decided for (a duplicate's too). */
  recipient: string;
  /** The request to create. */
  request?: Request;
  /** The note to add (to `record`). */
  note?: Note;
  /** A person created for an unknown sender. */
  person?: Person;
  rejection: Rejection | null;
  outgoing: OutgoingMail[];
  notifications: Notification[];
  /** Attachment and inline image bytes to store, by sha256. */
  files: { sha256: string; content: Buffer }[];
  /** The ledger entry; absent for a duplicate. */
  inbound?: InboundEntry;
  warnings: string[];
  trace: TraceEntry[];
  /** With `clock.tick`: the ms spent reaching each trace entry, in trace order. */
  traceMs?: number[];
}

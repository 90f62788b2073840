// The store file of CONTRACT §3. Collections not named here are kept as they are.

export type RecordType =
  | 'request' | 'problem' | 'release' | 'workflow' | 'workflow_task' | 'project' | 'project_task';

export const RECORD_TYPES: readonly RecordType[] = [
  'request', 'problem', 'release', 'workflow', 'workflow_task', 'project', 'project_task',
];

/** Store collection holding each record type. */
export const COLLECTION: Record<RecordType, RecordCollection> = {
  request: 'requests', problem: 'problems', release: 'releases', workflow: 'workflows',
  workflow_task: 'workflow_tasks', project: 'projects', project_task: 'project_tasks',
};
export type RecordCollection =
  | 'requests' | 'problems' | 'releases' | 'workflows' | 'workflow_tasks' | 'projects' | 'project_tasks';

export interface RecordRef { type: RecordType; id: number }

export interface EmailPolicy {
  allow_new_requests: boolean;
  allow_replies_as_notes: boolean;
  match_id_in_subject: boolean;
  auto_create_people: boolean;
  allow_from_parameter: boolean;
  from_auth_secrets: string[];
}

export interface Account {
  id: string;
  name: string;
  directory_account: string | null;
  directory: boolean;
  provide_feedback_days?: number;
  email_policy: EmailPolicy;
}

export interface Person {
  id: number;
  account: string;
  name: string;
  primary_email: string;
  emails: string[];
  disabled: boolean;
  roles: Record<string, string[]>;
}

export interface Team { id: number; account: string; name: string; email_local_part: string | null; members: number[] }
export interface Organization { id: number; account: string; name: string }
export interface ServiceInstance {
  id: number; account: string; name: string; first_line_team: number | null; support_team: number | null;
}
export interface ConfigurationItem {
  id: number; account: string; label: string; name: string; software: boolean;
  source: string | null; sourceID: string | null; service_instances: number[];
}
export interface FirstLineSupportAgreement { id: number; account: string; service_desk_team: number; covers: string[] }
export interface WorkflowTemplate { id: number; account: string; manager: number | null }
export interface RequestTemplate {
  id: number; account: string; subject?: string | null; category?: string | null; impact?: string | null;
  team?: number | null; workflow_template?: number | null; [field: string]: unknown;
}

export interface Request {
  id: number; account: string; subject: string; category: string; impact: string | null;
  status: string; completion_reason: string | null; team: number | null; member: number | null;
  requested_by: number; requested_for: number; created_by: number;
  service_instance: number | null; ci: number | null; source: string | null; sourceID: string | null;
  template: number | null; workflow: number | null; problem: number | null; supplier: number | null;
  supplier_requestID: string | null; desired_completion_at: string | null;
  downtime_start_at: string | null; downtime_end_at: string | null; waiting_until: string | null;
  time_spent: number | null; custom_fields: Record<string, string>;
  created_at: string; updated_at: string; completed_at: string | null; message_id: string | null;
  [extra: string]: unknown;
}

/** Problems, releases, workflows, tasks, projects: the fields matching needs. */
export interface OtherRecord {
  id: number; account: string; subject: string; status: string;
  source?: string | null; sourceID?: string | null; created_at?: string;
  completed_at?: string | null; solved_at?: string | null; finished_at?: string | null;
  [extra: string]: unknown;
}

export interface StoredFile { filename: string; content_type: string; size: number; sha256: string; path: string }
export interface InlineImage extends StoredFile { content_id: string }

export interface Note {
  id: number; record: RecordRef; person: number; text: string; internal: boolean; markdown: boolean;
  created_at: string; message_id: string | null; attachments: StoredFile[]; inline_images: InlineImage[];
}

export interface Notification { message_id: string; record: RecordRef; to: string; sent_at: string }

export interface InboundEntry {
  key: string; message_id: string | null; recipient: string; received_at: string;
  outcome: string; rule: string; record: RecordRef | null;
  /** The message's content hash (../mail/content-hash.ts); absent in entries older than it. */
  content_hash?: string;
}

/** An automatic reply m4me queued (Email Rejected, acknowledgement): counted for loop protection. */
export interface AutoReply { message_id: string; to: string; kind: string; sent_at: string; in_reply_to: string | null }

export interface StoreData {
  accounts: Account[];
  people: Person[];
  teams: Team[];
  organizations: Organization[];
  service_instances: ServiceInstance[];
  configuration_items: ConfigurationItem[];
  first_line_support_agreements: FirstLineSupportAgreement[];
  workflow_templates: WorkflowTemplate[];
  request_templates: RequestTemplate[];
  requests: Request[];
  problems: OtherRecord[];
  releases: OtherRecord[];
  workflows: OtherRecord[];
  workflow_tasks: OtherRecord[];
  projects: OtherRecord[];
  project_tasks: OtherRecord[];
  notes: Note[];
  notifications: Notification[];
  inbound: InboundEntry[];
  auto_replies: AutoReply[];
  [extra: string]: unknown;
}

export const ARRAY_COLLECTIONS = [
  'accounts', 'people', 'teams', 'organizations', 'service_instances', 'configuration_items',
  'first_line_support_agreements', 'workflow_templates', 'request_templates', 'requests', 'problems',
  'releases', 'workflows', 'workflow_tasks', 'projects', 'project_tasks', 'notes', 'notifications', 'inbound', 'auto_replies',
] as const;

export function emptyStore(): StoreData {
  const s = {} as Record<string, unknown[]>;
  for (const c of ARRAY_COLLECTIONS) s[c] = [];
  return s as unknown as StoreData;
}

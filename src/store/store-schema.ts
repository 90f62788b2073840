/**
 * CONTRACT §3 as a JSON Schema. `m4me check-config` checks a whole store against it with ajv
 * (../cli/store-schema.ts); a delivery checks the small reference collections against the
 * same schema with ./validate.ts, without loading ajv.
 */
const id = { type: 'integer' };
const idOrNull = { type: ['integer', 'null'] };
const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const time = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})$' };
const timeOrNull = { anyOf: [time, { type: 'null' }] };
const recordRef = {
  type: 'object', required: ['type', 'id'],
  properties: { type: { enum: ['request', 'problem', 'release', 'workflow', 'workflow_task', 'project', 'project_task'] }, id },
};
const list = (items: object) => ({ type: 'array', items });
const obj = (required: string[], properties: Record<string, object>) => ({ type: 'object', required, properties });
const otherRecord = (since: string) => obj(['id', 'account', 'subject', 'status'], {
  id, account: str, subject: str, status: str, source: strOrNull, sourceID: strOrNull, created_at: timeOrNull, [since]: timeOrNull,
});
const file = { filename: str, content_type: str, size: { type: 'integer', minimum: 0 }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, path: str };

export const STORE_SCHEMA = obj(['accounts'], {
  accounts: list(obj(['id', 'email_policy'], {
    id: str, name: str, directory_account: strOrNull, directory: { type: 'boolean' },
    provide_feedback_days: { type: 'integer', minimum: 0 },
    email_policy: obj([], {
      allow_new_requests: { type: 'boolean' }, allow_replies_as_notes: { type: 'boolean' }, match_id_in_subject: { type: 'boolean' },
      auto_create_people: { type: 'boolean' }, allow_from_parameter: { type: 'boolean' }, from_auth_secrets: list(str),
    }),
  })),
  people: list(obj(['id', 'account', 'primary_email'], {
    id, account: str, name: str, primary_email: str, emails: list(str), disabled: { type: 'boolean' },
    roles: { type: 'object', additionalProperties: list(str) },
  })),
  teams: list(obj(['id', 'account', 'name'], { id, account: str, name: str, email_local_part: strOrNull, members: list(id) })),
  organizations: list(obj(['id', 'account', 'name'], { id, account: str, name: str })),
  service_instances: list(obj(['id', 'account', 'name'], { id, account: str, name: str, first_line_team: idOrNull, support_team: idOrNull })),
  configuration_items: list(obj(['id', 'account', 'label'], {
    id, account: str, label: str, name: str, software: { type: 'boolean' }, source: strOrNull, sourceID: strOrNull, service_instances: list(id),
  })),
  first_line_support_agreements: list(obj(['id', 'account', 'service_desk_team', 'covers'], { id, account: str, service_desk_team: id, covers: list(str) })),
  workflow_templates: list(obj(['id', 'account'], { id, account: str, manager: idOrNull })),
  request_templates: list(obj(['id', 'account'], { id, account: str, workflow_template: idOrNull, team: idOrNull })),
  requests: list(obj(['id', 'account', 'subject', 'status', 'requested_by', 'requested_for', 'created_at'], {
    id, account: str, subject: str, category: str, impact: strOrNull, status: str, team: idOrNull, member: idOrNull,
    requested_by: id, requested_for: id, created_by: id, service_instance: idOrNull, ci: idOrNull,
    source: strOrNull, sourceID: strOrNull, created_at: time, updated_at: timeOrNull, completed_at: timeOrNull,
    message_id: strOrNull, custom_fields: { type: 'object', additionalProperties: str },
  })),
  problems: list(otherRecord('solved_at')),
  releases: list(otherRecord('completed_at')),
  workflows: list(otherRecord('completed_at')),
  workflow_tasks: list(otherRecord('finished_at')),
  projects: list(otherRecord('completed_at')),
  project_tasks: list(otherRecord('finished_at')),
  notes: list(obj(['id', 'record', 'person', 'text', 'created_at'], {
    id, record: recordRef, person: id, text: str, internal: { type: 'boolean' }, markdown: { type: 'boolean' },
    created_at: time, message_id: strOrNull,
    attachments: list(obj(['sha256', 'path'], file)),
    inline_images: list(obj(['sha256', 'path'], { ...file, content_id: str })),
  })),
  notifications: list(obj(['message_id', 'record'], { message_id: str, record: recordRef, to: str, sent_at: timeOrNull })),
  inbound: list(obj(['key', 'recipient', 'outcome'], { key: str, message_id: strOrNull, recipient: str, received_at: timeOrNull, outcome: str, rule: str, record: { anyOf: [recordRef, { type: 'null' }] }, content_hash: { type: 'string', pattern: '^[0-9a-f]{16}$' } })),
  auto_replies: list(obj(['to', 'sent_at'], { message_id: str, to: str, kind: str, sent_at: time })),
});


import type { EmailPolicy, Note, OtherRecord, Request, StoreData } from './schema.js';
import { emptyStore } from './schema.js';

/**
 * The demo store `m4me init --demo` writes: the Widget company, whose IT account receives
 * mail at widget-it@mail.4me.com. `samples/` holds one message for each rule, written
 * against exactly this data (see samples/README.md).
 */
export function demoStore(): StoreData {
  const s = emptyStore();
  const policy = (p: Partial<EmailPolicy> = {}): EmailPolicy => ({
    allow_new_requests: true, allow_replies_as_notes: true, match_id_in_subject: true,
    auto_create_people: false, allow_from_parameter: false, from_auth_secrets: [], ...p,
  });
  s.accounts = [
    { id: 'widget', name: 'Widget Corporation (directory)', directory_account: null, directory: true, provide_feedback_days: 28, email_policy: policy() },
    {
      id: 'widget-it', name: 'Widget IT', directory_account: 'widget', directory: false, provide_feedback_days: 28,
      email_policy: policy({ allow_from_parameter: true, from_auth_secrets: ['demo-webform-secret'] }),
    },
    { id: 'widget-hr', name: 'Widget HR', directory_account: 'widget', directory: false, provide_feedback_days: 28, email_policy: policy({ allow_new_requests: false }) },
    { id: 'acme-hosting', name: 'Acme Hosting', directory_account: null, directory: false, provide_feedback_days: 14, email_policy: policy({ match_id_in_subject: false }) },
  ];
  const person = (id: number, account: string, name: string, primary: string, roles: Record<string, string[]> = {}, emails: string[] = [], disabled = false) =>
    ({ id, account, name, primary_email: primary, emails, disabled, roles });
  s.people = [
    person(1001, 'widget', 'Ellen Brown', 'ellen.brown@widget.example', {}, ['e.brown@widget.example']),
    person(1002, 'widget-it', 'Howard Tanner', 'howard.tanner@widget.example', { 'widget-it': ['specialist', 'service_desk_analyst'] }),
    person(1003, 'widget-it', 'Nagios Monitor', 'nagios@monitoring.widget.example', { 'widget-it': ['specialist'], 'acme-hosting': ['specialist'] }),
    person(1004, 'widget', 'Beatrice Baldwin', 'beatrice.baldwin@widget.example'),
    person(1005, 'widget-it', 'Demo Request Webform', 'demo-request-webform@widget.example'),
    person(1006, 'widget', 'Dan Oldham', 'dan.oldham@widget.example', {}, [], true),
    person(1007, 'widget-it', 'Nina Network', 'nina.network@widget.example', { 'widget-it': ['specialist'] }),
    person(1008, 'widget-it', 'Sam Servers', 'sam.servers@widget.example', { 'widget-it': ['specialist'] }),
    person(1009, 'acme-hosting', 'Ali Acme', 'ali@acme-hosting.example', { 'acme-hosting': ['specialist'] }),
    person(1010, 'widget-it', 'Wendy Manager', 'wendy.manager@widget.example', { 'widget-it': ['specialist'] }),
  ];
  s.teams = [
    { id: 2001, account: 'widget-it', name: 'Service Desk', email_local_part: 'servicedesk', members: [1002] },
    { id: 2002, account: 'widget-it', name: 'Network', email_local_part: 'network', members: [1007] },
    { id: 2003, account: 'widget-it', name: 'Servers', email_local_part: 'servers', members: [1008, 1010] },
    { id: 2004, account: 'widget-hr', name: 'HR Desk', email_local_part: 'hrdesk', members: [] },
    { id: 2005, account: 'acme-hosting', name: 'Acme Operations', email_local_part: 'ops', members: [1009] },
  ];
  s.organizations = [{ id: 3001, account: 'widget-it', name: 'Acme Hosting' }];
  s.service_instances = [
    { id: 4001, account: 'widget-it', name: 'Mail Service', first_line_team: 2001, support_team: 2003 },
    { id: 4002, account: 'widget-it', name: 'Core Network', first_line_team: null, support_team: 2002 },
    { id: 4003, account: 'acme-hosting', name: 'Acme Hosting Platform', first_line_team: 2005, support_team: 2005 },
  ];
  s.configuration_items = [
    { id: 5001, account: 'widget-it', label: 'CMP00001', name: 'Mail server 1', software: false, source: 'SCCM', sourceID: 'srv-1', service_instances: [4001] },
    { id: 5002, account: 'widget-it', label: 'CMP00002', name: 'Core switch 1', software: false, source: 'SCCM', sourceID: 'sw-1', service_instances: [4002] },
    { id: 5003, account: 'widget-it', label: 'SW00001', name: 'Outlook', software: true, source: null, sourceID: null, service_instances: [4001] },
    { id: 5004, account: 'acme-hosting', label: 'ACM00001', name: 'Hypervisor A', software: false, source: null, sourceID: null, service_instances: [4003] },
  ];
  s.first_line_support_agreements = [
    { id: 6001, account: 'widget-it', service_desk_team: 2001, covers: ['widget-it', 'widget'] },
    { id: 6002, account: 'widget-hr', service_desk_team: 2004, covers: ['widget-hr'] },
    { id: 6003, account: 'acme-hosting', service_desk_team: 2005, covers: ['acme-hosting'] },
  ];
  s.workflow_templates = [{ id: 7001, account: 'widget-it', manager: 1010 }];
  s.request_templates = [
    { id: 8001, account: 'widget-it', subject: 'New laptop', category: 'order', impact: null, team: null, workflow_template: 7001 },
    { id: 8002, account: 'widget-it', subject: 'Password reset', category: 'rfi', impact: 'low', team: 2001, workflow_template: null, custom_fields: { channel: 'email' } },
  ];

  const request = (r: Partial<Request> & Pick<Request, 'id' | 'subject' | 'requested_by' | 'created_at'>): Request => ({
    account: 'widget-it', category: 'other', impact: null, status: 'assigned', completion_reason: null, team: 2001, member: null,
    requested_for: r.requested_by, created_by: r.requested_by, service_instance: null, ci: null, source: 'Email', sourceID: null,
    template: null, workflow: null, problem: null, supplier: null, supplier_requestID: null, desired_completion_at: null,
    downtime_start_at: null, downtime_end_at: null, waiting_until: null, time_spent: null, custom_fields: {},
    updated_at: r.created_at, completed_at: null, message_id: null, ...r,
  });
  s.requests = [
    request({ id: 100001, subject: 'VPN drops every hour', requested_by: 1001, created_at: '2026-02-27T14:05:00+00:00', sourceID: 'vpn-1@widget.example', message_id: 'vpn-1@widget.example' }),
    request({ id: 100002, subject: 'Cannot open shared calendar', requested_by: 1001, created_at: '2026-03-01T10:00:00+00:00', sourceID: 'demo-thread-1@widget.example', message_id: 'demo-thread-1@widget.example' }),
    request({
      id: 100003, subject: 'PROBLEM: mail1 SMTP is CRITICAL', requested_by: 1003, created_at: '2026-03-02T07:30:00+00:00',
      category: 'incident', impact: 'top', team: 2001, service_instance: 4001, ci: 5001, source: 'Nagios', sourceID: 'nagios-7781',
    }),
    request({
      id: 100004, subject: 'Monitor flickering', requested_by: 1001, created_at: '2025-11-03T09:00:00+00:00', status: 'completed',
      completion_reason: 'solved', member: 1002, updated_at: '2025-11-05T16:00:00+00:00', completed_at: '2025-11-05T16:00:00+00:00',
    }),
  ];
  const other = (id: number, subject: string, status: string, extra: Partial<OtherRecord> = {}): OtherRecord =>
    ({ id, account: 'widget-it', subject, status, source: null, sourceID: null, created_at: '2026-02-20T09:00:00+00:00', ...extra });
  s.problems = [other(100010, 'Mail queue backlog after patching', 'in_progress', { source: 'Nagios', sourceID: 'PRB-42', solved_at: null, team: 2003, member: 1008 })];
  s.releases = [other(100020, 'Spring 2026 desktop release', 'in_progress', { completed_at: null })];
  s.workflows = [other(100030, 'Replace core switches', 'progress_halted', { completed_at: null, manager: 1010 })];
  s.workflow_tasks = [other(100031, 'Approve switch purchase', 'assigned', {
    finished_at: null, workflow: 100030, category: 'approval', team: null, member: null, approvers: [1002],
  })];
  s.projects = [other(100040, 'Office move Amsterdam', 'in_progress', { completed_at: null, manager: 1010 })];
  s.project_tasks = [other(100041, 'Cable the new floor', 'assigned', { finished_at: null, project: 100040, team: 2002, member: 1007, assignees: [1007] })];

  const note = (id: number, type: Note['record']['type'], record: number, person: number, text: string, created_at: string, message_id: string | null = null): Note =>
    ({ id, record: { type, id: record }, person, text, internal: false, markdown: false, created_at, message_id, attachments: [], inline_images: [] });
  s.notes = [
    note(900001, 'request', 100001, 1001, 'The VPN client disconnects every hour on the hour.', '2026-02-27T14:05:00+00:00', 'vpn-1@widget.example'),
    note(900002, 'request', 100002, 1001, 'Outlook says "permission denied" for the team calendar.', '2026-03-01T10:00:00+00:00', 'demo-thread-1@widget.example'),
    note(900003, 'request', 100003, 1003, 'SMTP CRITICAL - connection refused on port 25', '2026-03-02T07:30:00+00:00'),
    note(900004, 'request', 100004, 1001, 'My second monitor flickers.', '2025-11-03T09:00:00+00:00'),
  ];
  s.notifications = [
    { message_id: 'notify-100001-1@mail.4me.com', record: { type: 'request', id: 100001 }, to: 'ellen.brown@widget.example', sent_at: '2026-03-01T08:00:00+00:00' },
    { message_id: 'notify-100031-1@mail.4me.com', record: { type: 'workflow_task', id: 100031 }, to: 'howard.tanner@widget.example', sent_at: '2026-03-01T12:00:00+00:00' },
  ];
  return s;
}

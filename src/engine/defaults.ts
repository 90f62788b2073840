import type { Request, RequestTemplate, Team } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { STATUSES_REQUIRING_MEMBER } from './options.js';
import type { RequestParameters } from './parameters.js';
import { isoTime } from './trace.js';

/**
 * "Default values": the new request's fields, in the spec's precedence. Template values come
 * first, then the parameters, subject and body overwrite them; what is still empty gets the
 * spec's default. Each field says in the trace where its value came from.
 */
export function buildRequest(ctx: MessageContext, params: RequestParameters, id: number): Request {
  const { view, sender, email, trace, clock } = ctx;
  const account = params.account ?? ctx.account.id;
  const tpl: RequestTemplate | undefined = params.template !== undefined ? view.requestTemplate(params.template) : undefined;
  const note = (field: string, value: unknown, why: string) =>
    trace.add(`defaults.${field}`, 'applied', `${field} ${value === null ? 'empty' : String(value)}: ${why}`);
  const fromTemplate = <T>(field: string): T | undefined => {
    const v = tpl?.[field];
    if (v === undefined || v === null) return undefined;
    note(field, typeof v === 'object' ? JSON.stringify(v) : v, `from request template ${tpl!.id}`);
    return v as T;
  };

  const requested_for = params.requested_for ?? sender.id;
  note('requested_by', sender.id, 'the sender (no other value allowed)');
  note('created_by', sender.id, 'the sender (no other value allowed)');
  if (params.requested_for === undefined) note('requested_for', sender.id, 'the sender');
  const ci = params.ci ?? fromTemplate<number>('ci') ?? null;

  let service_instance: number | null = params.service_instance ?? fromTemplate<number>('service_instance') ?? null;
  if (service_instance === null && ci !== null) {
    service_instance = view.ci(ci)?.service_instances[0] ?? null;
    note('service_instance', service_instance, service_instance === null ? `CI ${ci} has no service instance` : `the first service instance of CI ${ci}`);
  }

  let category = params.category ?? fromTemplate<string>('category');
  if (!category) {
    category = service_instance !== null ? 'incident' : 'other';
    note('category', category, service_instance !== null ? 'a service instance is related' : 'no service instance is related');
  }

  let impact: string | null = params.impact ?? fromTemplate<string>('impact') ?? null;
  if (impact === null && category === 'incident') {
    impact = 'top';
    note('impact', impact, 'the category is incident');
  }

  const workflowTemplate = tpl?.workflow_template != null ? view.workflowTemplate(tpl.workflow_template) : undefined;
  let status = params.status ?? fromTemplate<string>('status');
  if (!status) {
    status = workflowTemplate ? 'workflow_pending' : 'assigned';
    note('status', status, workflowTemplate ? `request template ${tpl!.id} is linked to workflow template ${workflowTemplate.id}` : 'no status given');
  }

  let member: number | null = params.member ?? null;
  if (member === null && workflowTemplate?.manager != null) {
    member = workflowTemplate.manager;
    note('member', member, `the manager of workflow template ${workflowTemplate.id}`);
  }
  member ??= fromTemplate<number>('member') ?? null;
  if (member === null && STATUSES_REQUIRING_MEMBER.includes(status)) {
    member = sender.id;
    note('member', member, `status ${status} requires a member and no valid member was given: the sender`);
  }

  const team = chooseTeam(ctx, params, tpl, { account, member, service_instance, requested_for });
  const now = isoTime(clock.now);
  const source = params.source ?? 'Email';
  const sourceID = params.sourceID ?? email.messageId ?? null;
  if (!params.source) note('source', source, 'no #source given');
  if (!params.sourceID) note('sourceID', sourceID, 'the Message-ID of the email');

  const subject = email.subject.trim() || fromTemplate<string>('subject') || '(no subject)';
  if (email.subject.trim()) note('subject', JSON.stringify(subject), 'the Subject of the email');
  else if (subject === '(no subject)') note('subject', JSON.stringify(subject), 'the email has no Subject');
  return {
    id, account,
    subject,
    category, impact, status,
    completion_reason: status === 'completed' ? params.completion_reason ?? fromTemplate<string>('completion_reason') ?? null : null,
    team, member,
    requested_by: sender.id, requested_for, created_by: sender.id,
    service_instance, ci, source, sourceID,
    template: tpl?.id ?? null,
    workflow: params.workflow ?? null,
    problem: params.problem ?? null,
    supplier: params.supplier ?? fromTemplate<number>('supplier') ?? null,
    supplier_requestID: params.supplier_requestID ?? null,
    desired_completion_at: params.desired_completion_at ?? null,
    downtime_start_at: params.downtime_start_at ?? null,
    downtime_end_at: params.downtime_end_at ?? null,
    waiting_until: params.waiting_until ?? null,
    time_spent: params.time_spent ?? null,
    custom_fields: { ...(fromTemplate<Record<string, string>>('custom_fields') ?? {}), ...params.custom_fields },
    created_at: now, updated_at: now,
    completed_at: status === 'completed' ? now : null,
    message_id: email.messageId,
  };
}

interface TeamInputs { account: string; member: number | null; service_instance: number | null; requested_for: number }

/** The spec's team rule, from the most specific source to the first line support agreement. */
function chooseTeam(ctx: MessageContext, params: RequestParameters, tpl: RequestTemplate | undefined, r: TeamInputs): number | null {
  const { view, trace, sender, addressTeam } = ctx;
  const pick = (team: Team | number | null | undefined, why: string): number | null => {
    const id = typeof team === 'number' ? team : team?.id ?? null;
    trace.add('defaults.team', 'applied', `team ${id ?? 'empty'}: ${why}`);
    return id;
  };
  if (params.team !== undefined) return params.team;
  if (params.invalidTeam !== undefined) {
    trace.add('defaults.team', 'applied', `'${params.invalidTeam}' named no team, so the default team is selected`);
  }
  if (addressTeam && addressTeam.account === r.account) return pick(addressTeam, `the mail was sent to the address of team ${addressTeam.name}`);
  if (tpl?.team != null) return pick(tpl.team, `from request template ${tpl.id}`);
  if (r.member !== null) {
    const teams = view.teamsOfMember(r.member).filter((t) => t.account === r.account);
    if (teams[0]) return pick(teams[0], `the team member ${r.member} belongs to`);
  }
  const si = r.service_instance !== null ? view.serviceInstance(r.service_instance) : undefined;
  if (si) {
    const inTeam = (t: number | null) => t !== null && (view.team(t)?.members.includes(sender.id) ?? false);
    if (si.first_line_team !== null && !inTeam(si.first_line_team) && !inTeam(si.support_team)) {
      return pick(si.first_line_team, `the first line team of service instance ${si.id} (${si.name})`);
    }
    if (si.support_team !== null) {
      const why = si.first_line_team === null ? 'it has no first line team' : 'the sender is in its first line or support team';
      return pick(si.support_team, `the support team of service instance ${si.id} (${si.name}): ${why}`);
    }
    if (si.first_line_team !== null) return pick(si.first_line_team, `the first line team of service instance ${si.id}; it has no support team`);
  }
  // Only an agreement of the request's own account: a team of another account is never assigned.
  const forAccount = view.person(r.requested_for)?.account ?? r.account;
  for (const covered of [forAccount, r.account]) {
    const agreement = view.agreementCovering(r.account, covered);
    if (agreement) {
      return pick(agreement.service_desk_team, `the service desk team of first line support agreement ${agreement.id} of ${r.account}, which covers ${covered}`);
    }
  }
  return pick(null, `no first line support agreement of ${r.account} covers ${forAccount}`);
}

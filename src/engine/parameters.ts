import type { ParameterLine } from '../mail/types.js';
import type { Person } from '../store/schema.js';
import { hasRole, type MessageContext } from './context.js';
import { dmarcVerdict } from './from-override.js';
import { OPTIONS, shortcut, type OptionField } from './options.js';
import { isoTime } from './trace.js';
import { accountScope } from './scope.js';

/** Field values the parameters of a message set, already resolved to IDs and checked. */
export interface RequestParameters {
  /** `#support_domain`: the account to register the request in. */
  account?: string;
  category?: string; impact?: string; status?: string; completion_reason?: string;
  ci?: number; service_instance?: number; team?: number; member?: number; requested_for?: number;
  problem?: number; workflow?: number; supplier?: number; supplier_requestID?: string; template?: number;
  source?: string; sourceID?: string;
  desired_completion_at?: string; downtime_start_at?: string; downtime_end_at?: string; waiting_until?: string;
  time_spent?: number;
  custom_fields: Record<string, string>;
  internal: boolean; markdown: boolean;
  /** A `#team`/`#team_id` that named no team: the default team applies. */
  invalidTeam?: string;
}

const empty = (): RequestParameters => ({ custom_fields: {}, internal: false, markdown: false });

/**
 * "Mail from monitoring tools" and "Parameters": the #name: value lines of a Specialist of
 * the receiving account become field values. Anything that names nothing is ignored with a
 * warning, so the default applies and the request is still created.
 */
export function readParameters(ctx: MessageContext): { honoured: boolean; params: RequestParameters } {
  const { email, sender, account, trace } = ctx;
  const params = empty();
  if (!email.parameters.length) {
    trace.add('parameters', 'skipped', 'no parameter lines at the top of the body');
    return { honoured: false, params };
  }
  if (!hasRole(sender, account.id, 'specialist')) {
    trace.add('parameters.ignored', 'ignored',
      `${email.parameters.length} parameter line(s) ignored: person ${sender.id} does not have the Specialist role of ${account.id}; the lines stay in the note`);
    return { honoured: false, params };
  }
  trace.add('parameters.role', 'matched', `person ${sender.id} has the Specialist role of ${account.id}`);
  if (ctx.policy.parameterTrust === 'dmarc') {
    // Optional hardening: a From anyone can forge is not enough to set fields.
    const dmarc = dmarcVerdict(email, ctx.policy);
    if (!dmarc.pass) {
      trace.add('parameters.trust', 'ignored',
        `${email.parameters.length} parameter line(s) ignored: parameterTrust is "dmarc" and ${dmarc.detail}; the lines stay in the note`);
      return { honoured: false, params };
    }
    trace.add('parameters.trust', 'matched', `parameterTrust is "dmarc": ${dmarc.detail}`);
  }
  const reader = new ParameterReader(ctx, params);
  // support_domain decides which account unqualified names are looked up in, so it goes first.
  const lines = [...email.parameters].sort((a, b) => Number(b.name === 'support_domain') - Number(a.name === 'support_domain'));
  for (const line of lines) reader.read(line);
  reader.finish();
  return { honoured: true, params };
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** ISO 8601 with an offset; `YYYY-MM-DD HH:MM[:SS]` and `YYYY-MM-DD` are taken as UTC. */
export function parseDateTime(value: string): string | null {
  const m = DATETIME.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, Math.round(Number(`0${frac || '.0'}`) * 1000));
  const check = new Date(ms);
  if (check.getUTCDate() !== +d! || check.getUTCMonth() !== +mo! - 1 || +h > 23 || +mi > 59 || +s > 59) return null;
  let offset = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = zone.replace(':', '');
    const oh = +z.slice(1, 3), om = +(z.slice(3, 5) || '0'); // ISO 8601 allows +hh alone
    if (oh > 14 || om > 59) return null;
    offset = (z[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return isoTime(ms - offset);
}

type Handler = (r: ParameterReader, line: ParameterLine) => void;

const DATETIME_FIELDS = ['desired_completion_at', 'downtime_start_at', 'downtime_end_at', 'waiting_until'] as const;
const TEXT_FIELDS = ['source', 'sourceID', 'supplier_requestID'] as const;

const HANDLERS: Record<string, Handler> = {
  category: (r, l) => r.option('category', l),
  impact: (r, l) => r.option('impact', l),
  status: (r, l) => r.option('status', l),
  completion_reason: (r, l) => r.option('completion_reason', l),
  internal: (r, l) => r.flag('internal', l),
  markdown: (r, l) => r.flag('markdown', l),
  time_spent: (r, l) => {
    if (!/^\d{1,7}$/.test(l.value)) return r.refuse(l, `'${l.value}' is not a number of minutes`);
    r.set(l, 'time_spent', Number(l.value), `${Number(l.value)} minutes`);
  },
  support_domain: (r, l) => r.supportDomain(l),
  ci: (r, l) => r.lookup(l, 'ci', (a) => r.view.ciByLabelOrName(a, l.value), (ci) => `CI ${ci.id} (${ci.label})`),
  ci_id: (r, l) => r.lookup(l, 'ci', (a) => r.byId(l, (id) => r.view.ci(id), a), (ci) => `CI ${ci.id} (${ci.label})`),
  ci_source: (r, l) => { r.ciSource = l; },
  ci_sourceID: (r, l) => { r.ciSourceID = l; },
  service_instance: (r, l) => r.lookup(l, 'service_instance', (a) => r.view.serviceInstanceByName(a, l.value), (s) => `service instance ${s.id} (${s.name})`),
  service_instance_id: (r, l) => r.lookup(l, 'service_instance', (a) => r.byId(l, (id) => r.view.serviceInstance(id), a), (s) => `service instance ${s.id} (${s.name})`),
  team: (r, l) => r.team(l, (a) => r.view.teamByName(a, l.value)),
  team_id: (r, l) => r.team(l, (a) => r.byId(l, (id) => r.view.team(id), a)),
  member: (r, l) => r.member(l, (a) => r.personByEmail(a, l.value)),
  member_id: (r, l) => r.member(l, (a) => r.personById(a, l.value)),
  requested_for: (r, l) => r.requestedFor(l, (a) => r.personByEmail(a, l.value)),
  requested_for_id: (r, l) => r.requestedFor(l, (a) => r.personById(a, l.value)),
  supplier: (r, l) => r.lookup(l, 'supplier', (a) => r.view.organizationByName(a, l.value), (o) => `organization ${o.id} (${o.name})`),
  supplier_id: (r, l) => r.lookup(l, 'supplier', (a) => r.byId(l, (id) => r.view.organization(id), a), (o) => `organization ${o.id} (${o.name})`),
  problem_id: (r, l) => r.lookup(l, 'problem', (a) => r.byId(l, (id) => r.view.record('problem', id), a), (p) => `problem ${p.id}`),
  workflow_id: (r, l) => r.lookup(l, 'workflow', (a) => r.byId(l, (id) => r.view.record('workflow', id), a), (w) => `workflow ${w.id}`),
  template_id: (r, l) => r.lookup(l, 'template', (a) => r.byId(l, (id) => r.view.requestTemplate(id), a), (t) => `request template ${t.id}`),
  ...Object.fromEntries(DATETIME_FIELDS.map((f) => [f, (r: ParameterReader, l: ParameterLine) => {
    const at = parseDateTime(l.value);
    if (!at) return r.refuse(l, `'${l.value}' is not a datetime (ISO 8601 with an offset, e.g. 2026-03-02T10:00:00+01:00)`);
    r.set(l, f, at, at);
  }])),
  ...Object.fromEntries(TEXT_FIELDS.map((f) => [f, (r: ParameterReader, l: ParameterLine) => {
    if (!l.value) return r.refuse(l, 'it has no value');
    r.set(l, f, l.value, `'${l.value}'`);
  }])),
};

class ParameterReader {
  ciSource?: ParameterLine;
  ciSourceID?: ParameterLine;
  readonly view: MessageContext['view'];

  constructor(private readonly ctx: MessageContext, private readonly params: RequestParameters) {
    this.view = ctx.view;
  }

  /** Unqualified names are looked up in the account the request is registered in. */
  private get home(): string { return this.params.account ?? this.ctx.account.id; }

  read(line: ParameterLine): void {
    if (line.name.startsWith('custom_field_')) {
      const id = line.name.slice('custom_field_'.length);
      if (!id) return this.refuse(line, 'a custom field needs an ID after custom_field_');
      // Defined, not assigned: `custom_field___proto__` is a field like any other.
      Object.defineProperty(this.params.custom_fields, id, { value: line.value, enumerable: true, writable: true, configurable: true });
      this.ctx.trace.add(`parameters.${line.name}`, 'applied', `custom field ${id} = '${line.value}'`);
      return;
    }
    if (Object.hasOwn(HANDLERS, line.name)) return HANDLERS[line.name]!(this, line);
    const short = line.value === '' ? shortcut(line.name) : null;
    if (short) return this.set(line, short.field, short.value, `${short.value} (shortcut #${line.name})`);
    this.ctx.trace.warn(`parameters.${line.name}`, `unknown parameter #${line.name} ignored`);
  }

  finish(): void {
    if (this.ciSourceID) {
      const l = this.ciSourceID;
      const source = this.ciSource?.value || null;
      this.lookup(l, 'ci', (a) => this.view.cisBySource(a, source, l.value)[0],
        (ci) => `CI ${ci.id} (${ci.label}) by ${source ? `ci_source ${source} and ` : ''}ci_sourceID ${l.value}`);
    } else if (this.ciSource) {
      this.refuse(this.ciSource, '#ci_source needs #ci_sourceID');
    }
    const p = this.params;
    if (p.completion_reason && p.status !== 'completed') {
      this.ctx.trace.warn('parameters.completion_reason', `#completion_reason ${p.completion_reason} ignored: it applies only when the status is completed`);
      delete p.completion_reason;
    }
  }

  refuse(line: ParameterLine, why: string): void {
    this.ctx.trace.warn(`parameters.${line.name}`, `#${line.name}: ${why}; ignored, the default applies`);
  }

  set<K extends keyof RequestParameters>(line: ParameterLine, field: K, value: RequestParameters[K], shown: string): void {
    this.params[field] = value;
    this.ctx.trace.add(`parameters.${line.name}`, 'applied', `${String(field)} = ${shown}`);
  }

  option(field: OptionField, line: ParameterLine): void {
    const value = line.value.toLowerCase().replace(/[\s-]+/g, '_');
    if (!OPTIONS[field].includes(value)) {
      return this.refuse(line, `'${line.value}' is not an option of ${field} (${OPTIONS[field].join(', ')})`);
    }
    this.set(line, field, value, value);
  }

  flag(field: 'internal' | 'markdown', line: ParameterLine): void {
    const off = /^(false|no|0|off)$/i.test(line.value);
    this.set(line, field, !off, String(!off));
  }

  /** The account a name is looked up in: the qualifier's, if the sender is a Specialist there. */
  scope(line: ParameterLine): string | null {
    if (!line.account) return this.home;
    if (!this.view.account(line.account)) {
      this.refuse(line, `account ${line.account} does not exist`);
      return null;
    }
    if (!hasRole(this.ctx.sender, line.account, 'specialist')) {
      this.ctx.trace.add('parameters.account', 'failed', `@${line.account} refused: person ${this.ctx.sender.id} does not have the Specialist role of ${line.account}`);
      this.refuse(line, `the sender is not a Specialist of ${line.account}`);
      return null;
    }
    return line.account;
  }

  lookup<T extends { id: number }>(
    line: ParameterLine, field: 'ci' | 'service_instance' | 'supplier' | 'problem' | 'workflow' | 'template',
    find: (account: string) => T | undefined, shown: (found: T) => string,
  ): T | undefined {
    const account = this.scope(line);
    if (account === null) return undefined;
    if (!line.value) { this.refuse(line, 'it has no value'); return undefined; }
    const found = find(account);
    if (!found) { this.refuse(line, `'${line.value}' names no ${field.replace('_', ' ')} of account ${account}`); return undefined; }
    this.set(line, field, found.id, shown(found));
    return found;
  }

  byId<T extends { account: string }>(line: ParameterLine, get: (id: number) => T | undefined, account: string): T | undefined {
    if (!/^\d{1,15}$/.test(line.value)) return undefined;
    const found = get(Number(line.value));
    return found && found.account === account ? found : undefined;
  }

  /** A person of the account or its directory account. */
  personByEmail(account: string, address: string): Person | undefined {
    const accounts = this.accountsWithDirectory(account);
    return this.view.peopleByPrimaryEmail(address.toLowerCase()).find((p) => accounts.includes(p.account));
  }

  personById(account: string, value: string): Person | undefined {
    if (!/^\d{1,15}$/.test(value)) return undefined;
    const p = this.view.person(Number(value));
    return p && this.accountsWithDirectory(account).includes(p.account) ? p : undefined;
  }

  private accountsWithDirectory(account: string): string[] {
    return accountScope(this.view.account(account), account);
  }

  team(line: ParameterLine, find: (account: string) => { id: number; name: string } | undefined): void {
    const account = this.scope(line);
    if (account === null) return;
    const team = line.value ? find(account) : undefined;
    if (!team) {
      this.params.invalidTeam = line.value;
      return this.refuse(line, `'${line.value}' names no team of account ${account}`);
    }
    delete this.params.invalidTeam;
    this.set(line, 'team', team.id, `team ${team.id} (${team.name})`);
  }

  member(line: ParameterLine, find: (account: string) => Person | undefined): void {
    const account = this.scope(line);
    if (account === null) return;
    const person = line.value ? find(account) : undefined;
    if (!person) return this.refuse(line, `'${line.value}' names no person of account ${account}`);
    if (person.disabled) return this.refuse(line, `person ${person.id} is disabled`);
    if (!hasRole(person, account, 'specialist')) return this.refuse(line, `person ${person.id} is not a Specialist of ${account}, so cannot be the member`);
    this.set(line, 'member', person.id, `person ${person.id} (${person.name})`);
  }

  requestedFor(line: ParameterLine, find: (account: string) => Person | undefined): void {
    if (!hasRole(this.ctx.sender, this.home, 'service_desk_analyst')) {
      this.ctx.trace.warn(`parameters.${line.name}`,
        `#${line.name} ignored: person ${this.ctx.sender.id} does not have the Service Desk Analyst role of ${this.home}; requested_for stays the sender`);
      return;
    }
    const account = this.scope(line);
    if (account === null) return;
    const person = line.value ? find(account) : undefined;
    if (!person) return this.refuse(line, `'${line.value}' names no person of account ${account}`);
    if (person.disabled) return this.refuse(line, `person ${person.id} is disabled`);
    this.set(line, 'requested_for', person.id, `person ${person.id} (${person.name})`);
  }

  supportDomain(line: ParameterLine): void {
    const id = line.value.toLowerCase();
    const target = this.view.account(id);
    if (!target) return this.refuse(line, `account '${line.value}' does not exist`);
    if (target.directory) return this.refuse(line, `${id} is a directory account, which holds no requests`);
    if (!hasRole(this.ctx.sender, id, 'specialist')) {
      this.ctx.trace.add('parameters.account', 'failed', `support_domain ${id} refused: person ${this.ctx.sender.id} does not have the Specialist role of ${id}`);
      return this.refuse(line, `the sender is not a Specialist of ${id}`);
    }
    this.set(line, 'account', id, `register the request in account ${id}`);
  }
}

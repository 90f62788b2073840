/**
 * Rows of the reference collections (accounts, people, teams, …) as `m4me import` adds or
 * updates them: what a new row gets for the fields it leaves out, how an imported row updates
 * the stored one, and the checks of the references between collections that a schema cannot
 * express (a team's members are people, an agreement's team exists). Pure: no I/O.
 */
import type { StoreData } from './schema.js';

export const REFERENCE_COLLECTIONS = [
  'accounts', 'people', 'teams', 'organizations', 'service_instances', 'configuration_items',
  'first_line_support_agreements', 'workflow_templates', 'request_templates',
] as const;
export type ReferenceCollection = (typeof REFERENCE_COLLECTIONS)[number];

type Row = Record<string, unknown>;

/** Names a row may not use as a field: they would reach Object.prototype, not the row. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const isPlain = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `update` laid over `base`: nested objects merged field by field, anything else replaced. */
export function mergeRow(base: Row, update: Row): Row {
  const out: Row = { ...base };
  for (const [k, v] of Object.entries(update)) {
    if (FORBIDDEN_KEYS.has(k)) continue;
    out[k] = isPlain(v) && isPlain(base[k]) ? mergeRow(base[k] as Row, v) : v;
  }
  return out;
}

/** What a new row has for the fields its file leaves out: the values CONTRACT §3 shows as neutral. */
export function newRowDefaults(c: ReferenceCollection, row: Row): Row {
  switch (c) {
    case 'accounts': return {
      name: row.id, directory_account: null, directory: false,
      email_policy: { allow_new_requests: true, allow_replies_as_notes: true, match_id_in_subject: false, auto_create_people: false, allow_from_parameter: false, from_auth_secrets: [] },
    };
    case 'people': return { name: '', emails: [], disabled: false, roles: {} };
    case 'teams': return { email_local_part: null, members: [] };
    case 'organizations': return {};
    case 'service_instances': return { first_line_team: null, support_team: null };
    case 'configuration_items': return { name: row.label ?? '', software: false, source: null, sourceID: null, service_instances: [] };
    case 'first_line_support_agreements': return { covers: [] };
    case 'workflow_templates': return { manager: null };
    case 'request_templates': return {};
  }
}

export interface RowProblem { index: number; column: string | null; message: string }

const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+\.[^\s@<>(),;:"[\]\\]+$/;
const ACCOUNT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Problems of the references that `rows` (the imported rows, at their index in the file, as
 * they will be stored) make, against the store as it will be after the import.
 */
export function referenceProblems(c: ReferenceCollection, rows: Row[], after: Pick<StoreData, ReferenceCollection>): RowProblem[] {
  const problems: RowProblem[] = [];
  const ids = (name: ReferenceCollection) => new Set((after[name] as unknown as Row[]).map((r) => r.id));
  const accounts = ids('accounts');
  const people = ids('people');
  const teams = ids('teams');
  const services = ids('service_instances');
  const workflowTemplates = ids('workflow_templates');
  const seen = new Map<unknown, number>();
  const add = (index: number, column: string | null, message: string) => problems.push({ index, column, message });
  const mustBe = (index: number, column: string, v: unknown, set: Set<unknown>, what: string) => {
    if (v !== null && v !== undefined && !set.has(v)) add(index, column, `${JSON.stringify(v)} is not the ID of ${what}`);
  };

  rows.forEach((r, i) => {
    const first = seen.get(r.id);
    if (first !== undefined) add(i, 'id', `ID ${JSON.stringify(r.id)} is also in row ${first + 1} of this file`);
    else seen.set(r.id, i);
    if (c !== 'accounts') mustBe(i, 'account', r.account, accounts, 'an account');
    switch (c) {
      case 'accounts':
        if (typeof r.id === 'string' && !ACCOUNT_ID.test(r.id)) add(i, 'id', 'an account ID is the local part of its inbound address: lower-case letters, digits, . _ -');
        mustBe(i, 'directory_account', r.directory_account, accounts, 'an account');
        break;
      case 'people': {
        if (typeof r.primary_email === 'string' && !ADDRESS.test(r.primary_email)) add(i, 'primary_email', `${JSON.stringify(r.primary_email)} is not an email address`);
        if (Array.isArray(r.emails)) for (const e of r.emails) if (typeof e === 'string' && !ADDRESS.test(e)) add(i, 'emails', `${JSON.stringify(e)} is not an email address`);
        if (isPlain(r.roles)) for (const a of Object.keys(r.roles)) if (!accounts.has(a)) add(i, `roles.${a}`, `${JSON.stringify(a)} is not an account`);
        const mine = typeof r.primary_email === 'string' ? r.primary_email.toLowerCase() : null;
        const twin = mine && (after.people as unknown as Row[]).find((p) => p.id !== r.id && p.account === r.account && String(p.primary_email).toLowerCase() === mine);
        if (twin) add(i, 'primary_email', `person ${String(twin.id)} of ${String(r.account)} has the same primary email: mail from it would name two people`);
        break;
      }
      case 'teams':
        if (Array.isArray(r.members)) for (const m of r.members) mustBe(i, 'members', m, people, 'a person');
        break;
      case 'service_instances':
        mustBe(i, 'first_line_team', r.first_line_team, teams, 'a team');
        mustBe(i, 'support_team', r.support_team, teams, 'a team');
        break;
      case 'configuration_items':
        if (Array.isArray(r.service_instances)) for (const s of r.service_instances) mustBe(i, 'service_instances', s, services, 'a service instance');
        break;
      case 'first_line_support_agreements':
        mustBe(i, 'service_desk_team', r.service_desk_team, teams, 'a team');
        if (Array.isArray(r.covers)) for (const a of r.covers) mustBe(i, 'covers', a, accounts, 'an account');
        break;
      case 'workflow_templates':
        mustBe(i, 'manager', r.manager, people, 'a person');
        break;
      case 'request_templates':
        mustBe(i, 'team', r.team, teams, 'a team');
        mustBe(i, 'workflow_template', r.workflow_template, workflowTemplates, 'a workflow template');
        break;
      case 'organizations':
        break;
    }
  });
  return problems;
}

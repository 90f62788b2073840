import type { InboundEmail } from '../mail/types.js';
import type { Account, Person, Team } from '../store/schema.js';
import type { Clock, Policy, StoreView } from './types.js';
import type { Trace } from './trace.js';

/** What the rules after routing and sender know about a message. */
export interface MessageContext {
  email: InboundEmail;
  view: StoreView;
  policy: Policy;
  clock: Clock;
  trace: Trace;
  /** The account the inbound address belongs to. */
  account: Account;
  /** The inbound address, lower-case. */
  recipient: string;
  /** The team whose address the mail was sent to, if any. */
  addressTeam: Team | null;
  /** The person the message is from (after any X-4me-From override). */
  sender: Person;
}

export function hasRole(person: Person, account: string, role: string): boolean {
  // An account id from mail (`@account`, #support_domain) is never looked up on the prototype.
  const roles = person.roles;
  return !!roles && Object.hasOwn(roles, account) && Array.isArray(roles[account]) && roles[account].includes(role);
}

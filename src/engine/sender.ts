import { MAX_ADDRESS_LENGTH } from '../mail/header-values.js';
import type { Account, Person } from '../store/schema.js';
import type { Trace } from './trace.js';
import type { StoreView } from './types.js';
import { accountScope } from './scope.js';

export type SenderResult =
  | { ok: true; person: Person; created: boolean }
  | { ok: false; reason: string };

/**
 * The Person the address belongs to, in the account or its directory account: primary
 * emails first, then other emails. Disabled people do not count.
 */
export function findSender(
  address: string, name: string, account: Account, view: StoreView, trace: Trace, rule = 'sender',
): SenderResult {
  if (!address) {
    trace.add(`${rule}.primary_email`, 'not_matched', 'the message has no From address');
    return { ok: false, reason: 'the message has no From address' };
  }
  const accounts = accountScope(account);
  const rank = (p: Person) => accounts.indexOf(p.account);
  const inScope = (people: readonly Person[]) =>
    people.filter((p) => rank(p) >= 0).sort((a, b) => rank(a) - rank(b));
  let disabled: Person | undefined;
  for (const [kind, people] of [
    ['primary_email', view.peopleByPrimaryEmail(address)],
    ['other_email', view.peopleByOtherEmail(address)],
  ] as const) {
    const candidates = inScope(people);
    const person = candidates.find((p) => !p.disabled);
    disabled ??= candidates.find((p) => p.disabled);
    if (person) {
      trace.add(`${rule}.${kind}`, 'matched', `${address} → person ${person.id} (${person.name}) of account ${person.account}`);
      return { ok: true, person, created: false };
    }
    trace.add(`${rule}.${kind}`, 'not_matched', `no enabled person in ${accounts.join(' or ')} has ${address} as ${kind.replace('_', ' ')}`);
  }
  if (disabled) {
    const why = `person ${disabled.id} (${disabled.name}) with ${address} is disabled`;
    trace.add(`${rule}.disabled`, 'matched', why);
    return { ok: false, reason: why };
  }
  if (!account.email_policy.auto_create_people) {
    const why = `no person in ${accounts.join(' or ')} has the address ${address}, and the account does not create people`;
    trace.add(`${rule}.auto_create`, 'skipped', why);
    return { ok: false, reason: why };
  }
  // A person's address is a lookup key of the store (a PostgreSQL btree refuses one past
  // ~2,700 bytes) and one mail must be able to reach: RFC 5321 allows 254 octets.
  if (Buffer.byteLength(address) > MAX_ADDRESS_LENGTH) {
    const why = `the From address ${JSON.stringify(address.slice(0, 80))}${address.length > 80 ? '…' : ''} is longer than the ${MAX_ADDRESS_LENGTH} octets an email address may have`;
    trace.add(`${rule}.auto_create`, 'skipped', why);
    return { ok: false, reason: why };
  }
  const person: Person = {
    id: view.nextPersonId(), account: account.id, name: name.trim() || address.split('@')[0]!,
    primary_email: address, emails: [], disabled: false, roles: {},
  };
  trace.add(`${rule}.auto_create`, 'applied', `created person ${person.id} (${person.name}) in account ${account.id}`);
  return { ok: true, person, created: true };
}

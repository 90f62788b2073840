import { isAddrSpec } from '../mail/header-values.js';
import type { InboundEmail } from '../mail/types.js';
import type { Account, Team } from '../store/schema.js';
import type { Trace } from './trace.js';
import type { Policy, StoreView } from './types.js';
import { inboundDomain } from './scope.js';

export type Routing =
  | { ok: true; recipient: string; account: Account; team: Team | null }
  | { ok: false; recipient: string; rule: 'reject.unknown_address' | 'reject.directory_account'; reason: string };

interface Resolved { account: Account; team: Team | null; via: string }

/** The inbound address the message was sent to: the envelope's, else the first of the headers'. */
export function chooseRecipient(email: InboundEmail, policy: Policy, view: StoreView, trace: Trace): string {
  if (policy.envelopeRecipient) {
    // As a header's: it becomes the ledger key and a reply's From:, and an MTA (or whoever
    // feeds m4me) may pass anything. Not an address: the message has no inbound address.
    if (!isAddrSpec(policy.envelopeRecipient)) {
      trace.add('routing.recipient', 'ignored', `envelope recipient ${JSON.stringify(policy.envelopeRecipient.slice(0, 80))}${policy.envelopeRecipient.length > 80 ? ` (${policy.envelopeRecipient.length} characters)` : ''} is not an email address`);
      return '';
    }
    trace.add('routing.recipient', 'applied', `envelope recipient ${policy.envelopeRecipient}`);
    return policy.envelopeRecipient;
  }
  let unusable = 0;
  const candidates: [string, string][] = [
    ...email.deliveredTo.map((a): [string, string] => [a, 'Delivered-To']),
    ...email.xOriginalTo.map((a): [string, string] => [a, 'X-Original-To']),
    ...email.to.map((a): [string, string] => [a.address, 'To']),
    ...email.cc.map((a): [string, string] => [a.address, 'Cc']),
  ].filter(([a, h]) => {
    // The recipient becomes the ledger key and a reply's From: only a plain address may.
    if (isAddrSpec(a)) return true;
    // A few in the trace are enough: a header of junk must not make it huge.
    if (++unusable <= 5) trace.add('routing.recipient', 'ignored', `${h} ${JSON.stringify(a.slice(0, 80))} is not an email address`);
    return false;
  });
  if (unusable > 5) trace.add('routing.recipient', 'ignored', `${unusable - 5} more header addresses are not email addresses`);
  // Prefer an address that names an account or team; else the first one in an inbound domain.
  const known = candidates.find(([a]) => resolve(a, policy, view));
  const inDomain = known ?? candidates.find(([a]) => inboundDomain(unalias(a, policy), policy));
  const chosen = inDomain ?? candidates[0];
  if (!chosen) {
    trace.add('routing.recipient', 'not_matched', 'no envelope recipient and no Delivered-To, X-Original-To, To or Cc address');
    return '';
  }
  trace.add('routing.recipient', 'applied', `${chosen[1]}: ${chosen[0]}`);
  return chosen[0];
}

/** Account address → account; `team.account@domain` → that team of the account. */
export function route(recipient: string, policy: Policy, view: StoreView, trace: Trace): Routing {
  const target = unalias(recipient, policy);
  if (target !== recipient) trace.add('routing.alias', 'applied', `${recipient} is an alias of ${target}`);
  const found = resolve(recipient, policy, view);
  if (!found) {
    const why = !recipient ? 'no inbound address'
      : inboundDomain(target, policy) ? `no account or team has the address ${target}`
      : `${target} is not in the inbound mail domain (${policy.mailDomains.join(', ')})`;
    trace.add('routing.address', 'not_matched', why);
    return { ok: false, recipient, rule: 'reject.unknown_address', reason: why };
  }
  trace.add('routing.address', 'matched', found.via);
  if (found.account.directory) {
    const why = `${found.account.id} is a directory account: requests cannot be stored in it`;
    trace.add('routing.directory_account', 'matched', why);
    return { ok: false, recipient, rule: 'reject.directory_account', reason: why };
  }
  return { ok: true, recipient, account: found.account, team: found.team };
}

function unalias(address: string, policy: Policy): string {
  return Object.hasOwn(policy.aliases, address) ? policy.aliases[address]! : address;
}

function resolve(address: string, policy: Policy, view: StoreView): Resolved | null {
  const target = unalias(address, policy);
  if (!inboundDomain(target, policy)) return null;
  const local = target.slice(0, target.lastIndexOf('@'));
  const account = view.account(local);
  if (account) return { account, team: null, via: `${target} is the address of account ${account.id}` };
  // `team-name.account`: account ids may contain dots too, so try every split point.
  for (let dot = local.indexOf('.'); dot > 0; dot = local.indexOf('.', dot + 1)) {
    const acc = view.account(local.slice(dot + 1));
    const team = acc && view.teamByLocalPart(acc.id, local.slice(0, dot));
    if (acc && team) return { account: acc, team, via: `${target} is the address of team ${team.id} (${team.name}) of account ${acc.id}` };
  }
  return null;
}

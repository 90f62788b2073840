import { createHash, timingSafeEqual } from 'node:crypto';
import { insideAngles } from '../mail/text.js';
import type { InboundEmail } from '../mail/types.js';
import type { Account } from '../store/schema.js';
import type { Trace } from './trace.js';
import { accountScope } from './scope.js';
import type { Policy, StoreView } from './types.js';

export type OverrideResult =
  | { kind: 'none' }
  | { kind: 'override'; address: string }
  | { kind: 'reject'; reason: string };

/** Compares digests, so neither the length nor the content of a secret leaks through timing. */
function secretMatches(given: string, secrets: readonly string[]): boolean {
  const g = createHash('sha256').update(given).digest();
  let ok = false;
  for (const s of secrets) {
    ok = timingSafeEqual(g, createHash('sha256').update(s).digest()) || ok;
  }
  return ok;
}

/**
 * DMARC as the trusted Authentication-Results headers say (RFC 8601): every other such
 * header is ignored, and trusted headers that disagree count as a fail.
 */
export function dmarcVerdict(email: InboundEmail, policy: Policy): { pass: boolean; detail: string } {
  const trusted = email.authResults.filter((r) => policy.trustedAuthservIds.includes(r.authservId));
  const ignored = email.authResults.length - trusted.length;
  const note = ignored ? ` (${ignored} untrusted Authentication-Results ignored)` : '';
  const verdicts = trusted.map((r) => r.results.dmarc ?? 'none');
  if (!verdicts.length) return { pass: false, detail: `no trusted Authentication-Results header${note}` };
  if (verdicts.some((v) => v !== 'pass')) {
    return { pass: false, detail: `trusted Authentication-Results say dmarc=${[...new Set(verdicts)].join(', dmarc=')}${note}` };
  }
  return { pass: true, detail: `dmarc=pass by ${trusted.map((r) => r.authservId).join(', ')}${note}` };
}

/** X-4me-From / X-4me-Auth, honoured only under 'Allow email parameter #from'. */
export function checkFromOverride(email: InboundEmail, account: Account, policy: Policy, trace: Trace): OverrideResult {
  const { x4meFrom, x4meAuth } = email.headers;
  if (x4meFrom === null) return { kind: 'none' };
  if (!x4meFrom.trim()) {
    trace.add('sender.from_override', 'ignored', 'X-4me-From is empty: the From address is the sender');
    return { kind: 'none' };
  }
  if (!account.email_policy.allow_from_parameter) {
    trace.add('sender.from_override', 'ignored', `X-4me-From ignored: 'Allow email parameter #from' is off for ${account.id}`);
    return { kind: 'none' };
  }
  const address = (insideAngles(x4meFrom) ?? x4meFrom).trim().toLowerCase();
  const fail = (reason: string): OverrideResult => {
    trace.add('sender.from_override', 'failed', reason);
    return { kind: 'reject', reason };
  };
  if (!/^[^@\s]+@[^@\s]+$/.test(address)) return fail(`X-4me-From is not an email address`);
  if (!x4meAuth) return fail('X-4me-Auth header missing');
  if (!secretMatches(x4meAuth.trim(), account.email_policy.from_auth_secrets ?? [])) {
    return fail('X-4me-Auth does not match a configured secret');
  }
  const dmarc = dmarcVerdict(email, policy);
  if (!dmarc.pass) return fail(`DMARC did not pass: ${dmarc.detail}`);
  trace.add('sender.from_override', 'applied', `acting for ${address}: secret matched, ${dmarc.detail}`);
  return { kind: 'override', address };
}

/** On behalf of someone else: the form's own sender, when it is an enabled person of the account (or its directory), created the request. */
export function creatorOnBehalf(email: InboundEmail, account: Account, view: StoreView): number | null {
  if (!email.from) return null;
  const scope = accountScope(account);
  return view.peopleByPrimaryEmail(email.from.address).find((p) => scope.includes(p.account) && !p.disabled)?.id ?? null;
}

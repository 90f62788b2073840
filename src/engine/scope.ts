/** Small facts several spec sections share: a day, the inbound domain, an account's scope. */
import type { Account } from '../store/schema.js';
import type { Policy } from './types.js';

/** The spec's "24 hours" and "<x> days" are counted in these. */
export const DAY = 86_400_000;

/** The domain of an address, if it is one of m4me's inbound domains (`mailDomain`). */
export function inboundDomain(address: string, policy: Policy): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0) return null;
  const domain = address.slice(at + 1);
  return policy.mailDomains.includes(domain) ? domain : null;
}

/** "The account or its directory account": where its people and records may be found, in that order. */
export function accountScope(account: Pick<Account, 'id' | 'directory_account'> | undefined, id = account?.id): string[] {
  if (!id) return [];
  return account?.directory_account ? [id, account.directory_account] : [id];
}

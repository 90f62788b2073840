// Store URLs (CONTRACT §7), without loading the PostgreSQL client: every command asks.

/** Whether a configured store is a PostgreSQL URL (else it is a file). */
export function isPgUrl(store: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(store);
}

/** The URL with its password (and any `password=` parameter) replaced by `***`. */
export function redactUrl(url: string): string {
  return url
    .replace(/^(postgres(?:ql)?:\/\/[^/?#@]*?:)[^/?#@]*@/i, '$1***@')
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

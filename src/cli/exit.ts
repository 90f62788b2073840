/** sysexits(3) codes, as Postfix pipe(8) and local(8) read them (CONTRACT §6). */
export const EX = {
  OK: 0,
  /** `show`: no record with that type and ID (as grep says 'no match'). */
  NOT_FOUND: 1,
  USAGE: 64, DATAERR: 65, TEMPFAIL: 75, CONFIG: 78,
} as const;

/** A bad command line: one line on stderr, exit 64. */
export class UsageError extends Error {}

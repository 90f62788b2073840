/** Values from mail that may go into a reply: checked or made plain here, so no header can be smuggled in. */

/**
 * An RFC 5322 addr-spec a reply may be addressed to or from: a dot-atom local part and a
 * domain of LDH labels (or an address literal). No quoted local parts: nothing with a space,
 * comma, angle bracket or control character can pass.
 */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const ADDR_SPEC = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])$`);

/** The longest address there is (RFC 5321's path limit, less its angle brackets). */
export const MAX_ADDRESS_LENGTH = 254;

export function isAddrSpec(address: string): boolean {
  return address.length <= MAX_ADDRESS_LENGTH && ADDR_SPEC.test(address);
}

/**
 * Text from mail made one plain line: controls (C0, DEL, C1, so CR and LF too) and bidi
 * overrides become spaces, runs of whitespace one space, and at most `max` characters.
 */
export function oneLine(text: string, max = 200): string {
  const plain = text.replace(/[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ' ').replace(/\s+/g, ' ').trim();
  const chars = [...plain];
  return chars.length > max ? `${chars.slice(0, max - 1).join('').trimEnd()}…` : plain;
}

/**
 * Authentication-Results read by RFC 8601's grammar: a `dmarc=pass` inside a comment (nested
 * or not) or a quoted string is no result, `;` inside them separates nothing, a header that
 * does not parse (an unclosed comment or quote) says nothing, and only the authserv-id itself
 * (not a comment beside it) decides whether the header is trusted. Through the X-4me-From
 * override, which believes a trusted dmarc=pass.
 */
import { describe, expect, test } from '@jest/globals';
import { message, processMessage, text } from '../helpers/mime.js';

const SECRET = 'demo-webform-secret';
const TRUSTED = 'mx.widget.example';
const CONFIG = { trustedAuthservIds: [TRUSTED] };

async function override(authResults: string) {
  const raw = message({ id: `ar-${Math.random().toString(36).slice(2)}@widget.example`, from: 'Demo Request Webform <demo-request-webform@widget.example>', subject: 'Request for product demo',
    headers: ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, `Authentication-Results: ${authResults}`] }, text('A demo, please.'));
  const p = await processMessage(raw, { config: CONFIG });
  expect(p.run.stderr).toBe('');
  expect(p.run.code).toBe(0);
  return { line: p.line, detail: p.line.trace.find((t) => t.rule === 'sender.from_override')?.detail ?? '' };
}

describe('Authentication-Results (RFC 8601)', () => {
  test.each([
    ['a nested comment', `${TRUSTED}; spf=pass (comment (nested dmarc=pass) x) smtp.mailfrom=widget.example`],
    ['a nested comment holding "; dmarc=pass"', `${TRUSTED}; spf=pass (a (b) ; dmarc=pass) smtp.mailfrom=widget.example`],
    ['a quoted string holding "; dmarc=pass"', `${TRUSTED}; spf=pass smtp.mailfrom="x; dmarc=pass"`],
    ['the example of the brief', `${TRUSTED}; spf=pass (comment (nested dmarc=pass) x) smtp.mailfrom="x; dmarc=pass"`],
    ['an escaped quote inside a quoted string', `${TRUSTED}; spf=pass smtp.mailfrom="x\\"; dmarc=pass"`],
    ['an escaped parenthesis inside a comment', `${TRUSTED}; spf=pass (x \\) ; dmarc=pass) smtp.mailfrom=widget.example`],
    ['an unclosed comment', `${TRUSTED}; spf=pass (unclosed; dmarc=pass`],
    ['an unclosed quoted string', `${TRUSTED}; spf=pass smtp.mailfrom="unclosed; dmarc=pass`],
    ['dmarc=pass as a property value', `${TRUSTED}; spf=pass smtp.mailfrom=dmarc=pass`],
    ['more than "authserv-id [version]" before the first ";"', `${TRUSTED} spf=pass; dmarc=pass`],
    ['no authserv-id at all (a result first)', `${TRUSTED}=pass; dmarc=pass`],
  ])('no dmarc result from %s', async (_name, value) => {
    const { line, detail } = await override(value);
    expect(line.outcome).toBe('rejected');
    expect(line.rule).toBe('reject.from_override');
    expect(detail).toMatch(/DMARC did not pass: (trusted Authentication-Results say dmarc=none|no trusted Authentication-Results header)/);
  });

  test.each([
    ['a comment naming the trusted id beside another id', `evil.example (${TRUSTED}); dmarc=pass`],
    ['a comment before another id', `(${TRUSTED}) evil.example; dmarc=pass`],
    ['a quoted id holding the trusted one', `"evil; ${TRUSTED}"; dmarc=pass`],
  ])('not trusted: %s', async (_name, value) => {
    const { line, detail } = await override(value);
    expect(line.rule).toBe('reject.from_override');
    expect(detail).toMatch(/no trusted Authentication-Results header \(1 untrusted/);
  });

  test.each([
    ['the plain form', `${TRUSTED}; dmarc=pass header.from=widget.example`],
    ['a version, comments and folding whitespace around "="', `${TRUSTED} 1 (the MX); spf=pass (sender ok) smtp.mailfrom=widget.example; dmarc = pass (p=none; dis=none) header.from=widget.example`],
    ['a method version and a reason', `${TRUSTED}; dmarc/1=pass reason="aligned; ok" header.from=widget.example`],
    ['a quoted authserv-id and upper case', `"${TRUSTED.toUpperCase()}"; DMARC=Pass header.from=widget.example`],
  ])('dmarc=pass read from %s', async (_name, value) => {
    const { line, detail } = await override(value);
    expect(line.outcome).toBe('request_created');
    expect(detail).toMatch(/secret matched, dmarc=pass by mx\.widget\.example/);
  });
});

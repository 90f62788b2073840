/**
 * X-4me-From / X-4me-Auth (spec: "Overriding the From email address"), every branch, through
 * the CLI: the override is used only with the policy on, a configured secret, and DMARC passed
 * by a trusted Authentication-Results header; every refusal is `reject.from_override`.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, demoStoreFile, readStore, runCli, tempDir } from '../helpers/cli.js';
import { message, multipart, outbox, processMessage, text, type Processed } from '../helpers/mime.js';

const SECRET = 'demo-webform-secret';
const WRONG = 'not-the-secret-0451';
const FORM = 'Demo Request Webform <demo-request-webform@widget.example>';
const TRUSTED = 'mx.widget.example';
const CONFIG = { trustedAuthservIds: [TRUSTED, 'mx2.widget.example'] };
const PASS = `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=widget.example; dkim=pass header.d=widget.example; dmarc=pass header.from=widget.example`;

function webform(id: string, headers: string[], subject = 'Request for product demo'): string {
  return message({ id: `${id}@widget.example`, from: FORM, subject, headers },
    text('I would like to request a demo of your product.'));
}

/** The store without the accounts (whose email policy holds the configured secret). */
function storeWithoutAccounts(store: string): string {
  const { accounts: _accounts, ...rest } = readStore(store);
  return JSON.stringify(rest);
}

/** No secret, given or configured, may appear in the output, the store (but its policy) or the outbox. */
function expectNoSecret(p: Processed): void {
  const everything = [p.run.stdout, p.run.stderr, storeWithoutAccounts(p.store), ...outbox(p.store).map((m) => m.text)].join('\n');
  expect(everything).not.toContain(SECRET);
  expect(everything).not.toContain(WRONG);
}

async function expectRefused(raw: string, why: RegExp, opts: Parameters<typeof processMessage>[1] = { config: CONFIG }): Promise<Processed> {
  const p = await processMessage(raw, opts);
  expect(p.run.code).toBe(0);
  expect(p.line).toMatchObject({
    outcome: 'rejected', rule: 'reject.from_override', record: null,
    rejection: { template: 'email_rejected', to: 'demo-request-webform@widget.example' },
  });
  expect(p.line.rejection!.reason).toMatch(/^X-4me-From refused: /);
  expect(p.line.rejection!.reason).toMatch(why);
  expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'sender.from_override', result: 'failed', detail: expect.stringMatching(why) }));
  // Refused before the sender is looked up: neither the form nor the named person acts.
  const at = p.line.trace.findIndex((t) => t.rule === 'sender.from_override');
  expect(p.line.trace.slice(at + 1).map((t) => t.rule).filter((r) => !r.startsWith('reply.'))).toEqual([]);
  const data = readStore(p.store);
  expect(data.requests.filter((r) => r.id >= 100042)).toEqual([]);
  expect(data.inbound).toContainEqual(expect.objectContaining({ outcome: 'rejected', rule: 'reject.from_override' }));
  // The 'Email Rejected' reply goes to the form's sender, and says why without the secret, and
  // without which check failed (issue 16, item 7): the same text for every refusal.
  const replies = outbox(p.store);
  expect(replies).toHaveLength(1);
  expect(replies[0]!.text).toMatch(/^To: demo-request-webform@widget\.example\r$/m);
  expect(replies[0]!.text).toMatch(/Reason: The X-4me-From header was not accepted: the X-4me-Auth value and the DMARC policy/);
  const reason = /^Reason: .*$/m.exec(replies[0]!.text)![0];
  expect(reason).not.toMatch(/refused|does not match|did not pass|missing|dmarc=/);
  expectNoSecret(p);
  return p;
}

describe('X-4me-From override', () => {
  test('passing: secret matches, trusted dmarc=pass → requested_by/for the X-4me-From person, created_by the form', async () => {
    const p = await processMessage(webform('pass-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS]), { config: CONFIG });
    expect(p.line).toMatchObject({ outcome: 'request_created', rule: 'create.new_request' });
    expect(p.line.request).toMatchObject({ requested_by: 1004, requested_for: 1004, created_by: 1005, account: 'widget-it' });
    expect(p.line.note).toMatchObject({ person: 1004 });
    expect(p.line.trace).toContainEqual(expect.objectContaining({
      rule: 'sender.from_override', result: 'applied', detail: expect.stringMatching(/acting for beatrice\.baldwin@widget\.example: secret matched, dmarc=pass by mx\.widget\.example/),
    }));
    const stored = readStore(p.store).requests.find((r) => r.id === p.line.record!.id)!;
    expect(stored).toMatchObject({ requested_by: 1004, requested_for: 1004, created_by: 1005 });
    // The acknowledgement goes to the person the request is for.
    const replies = outbox(p.store);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toMatch(/^To: beatrice\.baldwin@widget\.example\r$/m);
    expectNoSecret(p);
  });

  test('passing with a display name in X-4me-From, the secret with surrounding space, and an untrusted fail beside the trusted pass', async () => {
    const p = await processMessage(webform('pass-2', [
      'X-4me-From: "Beatrice B." <Beatrice.Baldwin@Widget.Example>', `X-4me-Auth:   ${SECRET}  `,
      'Authentication-Results: attacker.example; dmarc=fail', PASS,
    ]), { config: CONFIG });
    expect(p.line.outcome).toBe('request_created');
    expect(p.line.request).toMatchObject({ requested_by: 1004, requested_for: 1004, created_by: 1005 });
    expect(p.line.trace.find((t) => t.rule === 'sender.from_override')!.detail).toMatch(/1 untrusted Authentication-Results ignored/);
  });

  test('the sample 17-x4me-from.eml passes with the demo configuration', async () => {
    const raw = readFileSync(new URL('../../samples/17-x4me-from.eml', import.meta.url));
    const p = await processMessage(raw, { config: { trustedAuthservIds: ['mx.widget.example'] } });
    expect(p.line.request).toMatchObject({ requested_by: 1004, requested_for: 1004, created_by: 1005 });
  });

  // The daily limit counts the address the acknowledgement goes to (the X-4me-From person),
  // not the form's From address.
  test('the daily limit of automatic replies holds for the X-4me-From person the acknowledgements go to', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ ...CONFIG, maxAutoRepliesPerDay: 1 }));
    for (const i of [1, 2]) {
      await runCli(['process', '--json', '--store', store, '--config', cfg, '--now', DEMO_NOW],
        { stdin: webform(`limit-${i}`, ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS], `Request for product demo ${i}`) });
    }
    expect(readStore(store).requests.filter((r) => r.requested_for === 1004)).toHaveLength(2);
    expect(outbox(store)).toHaveLength(1);
  });

  test('policy off: the headers are ignored and the request is from the real sender', async () => {
    const p = await processMessage(webform('off-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS]), {
      config: CONFIG,
      mutate: (s) => { s.accounts.find((a) => a.id === 'widget-it')!.email_policy.allow_from_parameter = false; },
    });
    expect(p.line).toMatchObject({ outcome: 'request_created', rule: 'create.new_request' });
    expect(p.line.request).toMatchObject({ requested_by: 1005, requested_for: 1005, created_by: 1005 });
    expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'sender.from_override', result: 'ignored', detail: expect.stringMatching(/'Allow email parameter #from' is off for widget-it/) }));
    expect(outbox(p.store).map((m) => m.text.match(/^To: (.*)\r$/m)![1])).toEqual(['demo-request-webform@widget.example']);
    expectNoSecret(p);
  });

  test('policy off: even a wrong secret is not a rejection', async () => {
    const p = await processMessage(webform('off-2', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${WRONG}`]), {
      config: CONFIG,
      mutate: (s) => { s.accounts.find((a) => a.id === 'widget-it')!.email_policy.allow_from_parameter = false; },
    });
    expect(p.line.outcome).toBe('request_created');
    expect(p.line.request!.requested_by).toBe(1005);
  });

  test('no X-4me-From: X-4me-Auth alone changes nothing', async () => {
    const p = await processMessage(webform('none-1', [`X-4me-Auth: ${SECRET}`, PASS]), { config: CONFIG });
    expect(p.line.request).toMatchObject({ requested_by: 1005, created_by: 1005 });
    expect(p.line.trace.some((t) => t.rule === 'sender.from_override')).toBe(false);
  });

  test('wrong secret', async () => {
    await expectRefused(webform('wrong-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${WRONG}`, PASS]), /X-4me-Auth does not match a configured secret/);
  });

  test('a secret that only differs in case, or is a prefix of the real one, is wrong', async () => {
    await expectRefused(webform('wrong-2', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET.toUpperCase()}`, PASS]), /does not match/);
    await expectRefused(webform('wrong-3', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET.slice(0, -1)}`, PASS]), /does not match/);
  });

  test('no secret configured for the account: every X-4me-Auth is wrong', async () => {
    await expectRefused(webform('wrong-4', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS]), /does not match/, {
      config: CONFIG, mutate: (s) => { s.accounts.find((a) => a.id === 'widget-it')!.email_policy.from_auth_secrets = []; },
    });
  });

  test('missing X-4me-Auth', async () => {
    await expectRefused(webform('missing-1', ['X-4me-From: beatrice.baldwin@widget.example', PASS]), /X-4me-Auth header missing/);
  });

  test('empty X-4me-Auth', async () => {
    await expectRefused(webform('missing-2', ['X-4me-From: beatrice.baldwin@widget.example', 'X-4me-Auth: ', PASS]), /X-4me-Auth/);
  });

  test('X-4me-From that is not an address', async () => {
    await expectRefused(webform('bad-from', ['X-4me-From: beatrice', `X-4me-Auth: ${SECRET}`, PASS]), /X-4me-From is not an email address/);
  });

  test('dmarc=fail in the trusted header', async () => {
    await expectRefused(webform('dmarc-fail', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=widget.example; dmarc=fail (p=reject) header.from=widget.example`]), /DMARC did not pass: trusted Authentication-Results say dmarc=fail/);
  });

  test('a trusted header without a dmarc result', async () => {
    await expectRefused(webform('dmarc-none', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=widget.example; dkim=pass header.d=widget.example`]), /dmarc=none/);
  });

  test('dmarc=pass only in a comment of the trusted header', async () => {
    await expectRefused(webform('dmarc-comment', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; dmarc=fail (not dmarc=pass) header.from=widget.example`]), /dmarc=fail/);
  });

  test('no Authentication-Results at all', async () => {
    await expectRefused(webform('dmarc-missing', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`]), /no trusted Authentication-Results header/);
  });

  test('only an untrusted authserv-id says dmarc=pass', async () => {
    await expectRefused(webform('untrusted-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      'Authentication-Results: attacker.example; dmarc=pass header.from=widget.example']), /no trusted Authentication-Results header \(1 untrusted Authentication-Results ignored\)/);
  });

  test('an authserv-id that merely contains the trusted one is not trusted', async () => {
    await expectRefused(webform('untrusted-2', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: evil-${TRUSTED}; dmarc=pass`, `Authentication-Results: ${TRUSTED}.attacker.example; dmarc=pass`]), /no trusted Authentication-Results header/);
  });

  test('no trustedAuthservIds configured: nothing is trusted', async () => {
    await expectRefused(webform('untrusted-3', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS]), /no trusted Authentication-Results header/, {});
  });

  test('two trusted headers that disagree', async () => {
    await expectRefused(webform('disagree-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS,
      'Authentication-Results: mx2.widget.example; dmarc=fail header.from=widget.example']), /trusted Authentication-Results say dmarc=pass, dmarc=fail/);
  });

  test('the same trusted authserv-id twice, disagreeing (a forged copy below the real one)', async () => {
    await expectRefused(webform('disagree-2', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; dmarc=fail`, PASS]), /dmarc=fail/);
  });

  test('one trusted header with two dmarc results, pass after fail: a fail is not outvoted', async () => {
    await expectRefused(webform('two-results-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; dmarc=fail header.from=evil.example; dmarc=pass header.from=widget.example`]), /dmarc=fail/);
    await expectRefused(webform('two-results-2', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`,
      `Authentication-Results: ${TRUSTED}; dmarc=pass header.from=widget.example; dmarc=fail header.from=evil.example`]), /dmarc=fail/);
  });

  test('headers inside a forwarded message (message/rfc822) count for nothing', async () => {
    const inner = webform('inner-1', ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`, PASS]);
    const raw = message({ id: 'outer-1@widget.example', from: FORM, headers: ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${SECRET}`] },
      multipart('mixed', [text('see attached'), { headers: ['Content-Type: message/rfc822'], body: inner }]));
    await expectRefused(raw, /no trusted Authentication-Results header/);
    // And without a top-level X-4me-From the forwarded one is not an override at all.
    const plain = message({ id: 'outer-2@widget.example', from: FORM }, multipart('mixed', [text('see attached'), { headers: ['Content-Type: message/rfc822'], body: inner }]));
    const p = await processMessage(plain, { config: CONFIG });
    expect(p.line.request).toMatchObject({ requested_by: 1005, created_by: 1005 });
  });

  test('a refusal for an unknown form sender still goes to reject.from_override (checked before the sender)', async () => {
    const raw = message({ id: 'stranger-1@stranger.example', from: 'Mallory <mallory@stranger.example>', headers: ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${WRONG}`] }, text('hi'));
    const p = await processMessage(raw, { config: CONFIG });
    expect(p.line).toMatchObject({ outcome: 'rejected', rule: 'reject.from_override', rejection: { to: 'mallory@stranger.example' } });
    expectNoSecret(p);
  });

  test('--explain (human output) shows the override rule and never the secret', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify(CONFIG));
    for (const [id, auth] of [['explain-1', WRONG], ['explain-2', SECRET]] as const) {
      const r = await runCli(['process', '--explain', '--store', store, '--config', cfg, '--now', DEMO_NOW],
        { stdin: webform(id, ['X-4me-From: beatrice.baldwin@widget.example', `X-4me-Auth: ${auth}`, PASS]) });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/sender\.from_override/);
      expect(r.stdout + r.stderr).not.toContain(auth);
    }
    expect(storeWithoutAccounts(store)).not.toContain(SECRET);
    expect(storeWithoutAccounts(store)).not.toContain(WRONG);
  });
});

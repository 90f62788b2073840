/**
 * The 'Email Rejected' reply says little to strangers (issue 16, item 7): the reason in the
 * spec's terms, no record, person or account ids, no names of other people, and one text
 * for every failed X-4me-From check, so the reply is no oracle for the secret. The full
 * reason stays in the JSON output (`rejection.reason`), the trace and --explain.
 */
import { describe, expect, test } from '@jest/globals';
import { demoStore } from '../../src/store/demo.js';
import { message, outbox, processMessage, text, type Processed } from '../helpers/mime.js';
import { DEMO_NOW, demoStoreFile, runCli, tempDir } from '../helpers/cli.js';

const TRUSTED = 'mx.widget.example';
const CONFIG = { trustedAuthservIds: [TRUSTED] };
const FORM = 'Demo Request Webform <demo-request-webform@widget.example>';
const PASS = `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=widget.example; dmarc=pass header.from=widget.example`;
const FAIL = `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=widget.example; dmarc=fail header.from=widget.example`;

/** The same message each time (same ID, subject, text), each in a fresh store: only the checks differ. */
const mail = (from: string, headers: string[], to = 'widget-it@mail.4me.com') =>
  message({ id: 'same-id-1@example.net', from, to, subject: 'Please help', headers }, text('Something is broken.'));

async function rejectedBody(p: Processed): Promise<string> {
  expect(p.run.code).toBe(0);
  expect(p.line.outcome).toBe('rejected');
  const replies = outbox(p.store);
  expect(replies).toHaveLength(1);
  return replies[0]!.text.slice(replies[0]!.text.indexOf('\r\n\r\n') + 4);
}

/** Every id and name in the demo store that a stranger must not learn from a reply. */
function internals(): string[] {
  const s = demoStore();
  return [
    ...s.accounts.flatMap((a) => [a.id, a.name]),
    ...s.people.flatMap((p) => [String(p.id), p.name, p.primary_email, ...p.emails]),
    ...s.teams.flatMap((t) => [String(t.id), t.name]),
    ...s.requests.map((r) => String(r.id)),
  ];
}

function expectNoInternals(body: string): void {
  for (const secret of internals()) expect(body).not.toContain(secret);
}

describe('X-4me-From refusals: one text for every failed check', () => {
  test('wrong secret, failed DMARC with the right secret, and a missing X-4me-Auth give byte-identical reply bodies', async () => {
    const wrong = await processMessage(mail(FORM, ['X-4me-From: beatrice.baldwin@widget.example', 'X-4me-Auth: not-the-secret', PASS]), { config: CONFIG });
    const dmarc = await processMessage(mail(FORM, ['X-4me-From: beatrice.baldwin@widget.example', 'X-4me-Auth: demo-webform-secret', FAIL]), { config: CONFIG });
    const missing = await processMessage(mail(FORM, ['X-4me-From: beatrice.baldwin@widget.example', PASS]), { config: CONFIG });
    const bodies = await Promise.all([wrong, dmarc, missing].map(rejectedBody));
    expect(bodies[1]).toBe(bodies[0]);
    expect(bodies[2]).toBe(bodies[0]);
    expect(bodies[0]).toMatch(/^Reason: The X-4me-From header was not accepted/m);
    expectNoInternals(bodies[0]!);
    // The operator still sees which check failed.
    expect(wrong.line.rejection!.reason).toMatch(/X-4me-Auth does not match/);
    expect(dmarc.line.rejection!.reason).toMatch(/DMARC did not pass/);
    expect(missing.line.rejection!.reason).toMatch(/X-4me-Auth header missing/);
  });
});

describe('replies name no ids and no other people', () => {
  test('a disabled person and a stranger get the same reply; neither names the person or the account', async () => {
    const disabled = await processMessage(mail('Dan Oldham <dan.oldham@widget.example>', []));
    const stranger = await processMessage(mail('Mallory <mallory@stranger.example>', []));
    expect(disabled.line.rejection!.reason).toMatch(/Dan Oldham/);
    const [a, b] = await Promise.all([disabled, stranger].map(rejectedBody));
    expect(a).toBe(b);
    expect(a).toMatch(/^Reason: The sender's email address does not belong to a person who may register requests in this account\.$/m);
    expectNoInternals(a!);
  });

  test.each([
    ['reject.new_requests_disabled', 'Ellen Brown <ellen.brown@widget.example>', 'widget-hr@mail.4me.com', /'Allow inbound email to generate new requests' is not checked/],
    ['reject.directory_account', 'Ellen Brown <ellen.brown@widget.example>', 'widget@mail.4me.com', /cannot be sent to a directory account/],
    ['reject.unknown_address', 'Mallory <mallory@stranger.example>', 'nobody@mail.4me.com', /not the email address of an account or of one of its teams/],
  ])('%s: the reason in the spec\'s terms, without account ids', async (rule, from, to, why) => {
    const p = await processMessage(mail(from, [], to));
    expect(p.line.rule).toBe(rule);
    const body = await rejectedBody(p);
    expect(body).toMatch(why);
    expectNoInternals(body);
    // The full reason is the operator's: in the JSON output and the human output.
    expect(p.line.rejection!.reason).not.toBe('');
    expect(body).not.toContain(p.line.rejection!.reason);
  });

  test('--explain and the human line keep the operator\'s reason', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const run = await runCli(['process', '--explain', '--store', store, '--now', DEMO_NOW], { stdin: mail('Dan Oldham <dan.oldham@widget.example>', []) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/rejected: person 1006 \(Dan Oldham\) with dan\.oldham@widget\.example is disabled/);
  });
});

/**
 * Long values from mail are data like any other: a subject, parameter values or an address of
 * thousands of characters are decided and stored (or refused for what they are), never a
 * temporary failure. A PostgreSQL btree index refuses an entry of more than ~2,700 bytes
 * (SQLSTATE 54000), and PostgreSQL text cannot hold U+0000 (22021): a store that keeps such a
 * value in a column must not make the message a 75 that the MTA retries for days, nor stop
 * every batch holding it.
 */
import { expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { DEMO_NOW, eml, jsonLines, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, testStore } from '../helpers/stores.js';

/** Text that does not compress (PostgreSQL compresses a value before it indexes it). */
function noise(chars: number, seed: string): string {
  let out = '';
  for (let i = 0; out.length < chars; i++) out += createHash('sha256').update(`${seed}${i}`).digest('base64').replace(/[+/=]/g, 'x');
  return out.slice(0, chars);
}

const deliver = (store: string, mail: string) => runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: mail });

/** An alert creates a request; the next one with the same #source and #sourceID is a note on it, found through them. */
async function createdThenMatched(store: string, alert: (id: string, subject: string) => string, name: string): Promise<void> {
  const first = await deliver(store, alert(`${name}-1@monitoring.widget.example`, 'PROBLEM: core-switch-1 is DOWN'));
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  const created = jsonLines(first.stdout)[0]!;
  expect(created.outcome).toBe('request_created');
  const second = await deliver(store, alert(`${name}-2@monitoring.widget.example`, 'RECOVERY: core-switch-1 is UP'));
  expect(second.stderr).toBe('');
  expect(second.code).toBe(0);
  const matched = jsonLines(second.stdout)[0]!;
  expect({ outcome: matched.outcome, rule: matched.rule, record: matched.record }).toEqual({ outcome: 'note_added', rule: 'match.source_sourceID', record: created.record });
}

describeStores('long values from mail', () => {
  test('a subject of 6,000 characters: the request is created (twice the same: one request)', async () => {
    const store = await testStore(tempDir());
    const subject = `Printer ${noise(6000, 'subject')}`;
    const first = await deliver(store, eml({ id: 'long-subject-1@widget.example', subject }));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(jsonLines(first.stdout)[0]!.outcome).toBe('request_created');
    const created = readStore(store).requests.filter((r) => r.subject === subject);
    expect(created).toHaveLength(1);
  });

  test('parameter values of 4,000 characters from a monitoring tool (#source, #sourceID, #ci): created, then matched by them', async () => {
    const store = await testStore(tempDir());
    const source = `Nagios${noise(4000, 'source')}`;
    const sourceId = `id-${noise(4000, 'source-id')}`;
    const ci = `CMP${noise(4000, 'ci')}`;
    const alert = (id: string, subject: string) => eml({ from: 'Nagios <nagios@monitoring.widget.example>', id, subject },
      `#source: ${source}\n#sourceID: ${sourceId}\n#ci: ${ci}\n\nHost core-switch-1 is DOWN.\n`);
    await createdThenMatched(store, alert, 'long-param');
  });

  test('a From address of 3,000 characters to an account that creates people: decided, not deferred', async () => {
    const store = await testStore(tempDir(), (d) => { d.accounts.find((a) => a.id === 'widget-it')!.email_policy.auto_create_people = true; });
    const from = `${noise(3000, 'from').toLowerCase()}@widget.example`;
    const run = await deliver(store, eml({ id: 'long-from@widget.example', from: `Someone <${from}>` }));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const r = jsonLines(run.stdout)[0]!;
    expect(JSON.stringify(readStore(store).people).includes(from)).toBe(false);
    expect(r.outcome).toBe('rejected');
  });

  test('a To address of 3,000 characters at the mail domain: decided (no account has it), not deferred', async () => {
    const store = await testStore(tempDir());
    const to = `${noise(3000, 'to').toLowerCase()}@mail.4me.com`;
    const run = await deliver(store, eml({ id: 'long-to@widget.example', to }));
    expect(run.code).not.toBe(75);
    expect(run.stderr).not.toMatch(/4\.\d\.\d/);
  });

  test('an envelope recipient of 3,000 characters at the mail domain (--recipient): not an address, rejected, never kept whole', async () => {
    const store = await testStore(tempDir());
    const to = `${noise(3000, 'rcpt').toLowerCase()}@mail.4me.com`;
    const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, '--recipient', to], { stdin: eml({ id: 'long-rcpt@widget.example' }) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const r = jsonLines(run.stdout)[0]!;
    expect({ outcome: r.outcome, rule: r.rule }).toEqual({ outcome: 'rejected', rule: 'reject.unknown_address' });
    expect(r.trace[0]).toEqual({ rule: 'routing.recipient', result: 'ignored', detail: expect.stringMatching(/^envelope recipient "[0-9a-z]{80}" \(3013 characters\) is not an email address$/) });
    const ledger = readStore(store).inbound.filter((e) => e.message_id === 'long-rcpt@widget.example');
    expect(ledger).toHaveLength(1);
    expect(JSON.stringify(ledger[0]).length).toBeLessThan(1000);
  });
});

describeStores('U+0000 in values from mail', () => {
  test('#source and #sourceID with a NUL (quoted-printable =00): created, then matched by them; a NUL in the From name and the body', async () => {
    const store = await testStore(tempDir());
    const alert = (id: string, subject: string) => eml({ from: '=?utf-8?q?Nag=00ios?= <nagios@monitoring.widget.example>', id, subject, headers: ['Content-Transfer-Encoding: quoted-printable'] },
      '#source: Nag=00ios\n#sourceID: id=00-7790\n\nHost core-switch-1 is DOWN =00 now.\n');
    await createdThenMatched(store, alert, 'nul');
  });
});

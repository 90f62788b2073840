// Header bytes that declare no charset, and messages that start oddly, from the shared
// corpus (read in place): through the real CLI, on both parse paths.
import { expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS, CORPUS_PRESENT, DEMO_NOW, jsonLines, readStore, runCli, tempDir, testIf } from '../helpers/cli.js';
import { describeStores, PG, testStore } from '../helpers/stores.js';

/** Zammad's own expectation for its test mail: a line (`subject`, `from_display_name`) of mailNNN.yml. */
const zammad = (n: string, key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(readFileSync(join(CORPUS, 'zammad', `mail${n}.yml`), 'utf8'))![1]!;
const zammadSubject = (n: string) => zammad(n, 'subject');

/** Processes one corpus file into a fresh demo store that creates unknown senders. */
async function processFile(file: string, env: Record<string, string> = {}) {
  const store = await testStore(tempDir(), (s) => { s.accounts.find((a) => a.id === 'widget-it')!.email_policy.auto_create_people = true; });
  const run = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW, '--recipient', 'widget-it@mail.4me.com', join(CORPUS, file)], { env });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const [r] = jsonLines(run.stdout);
  expect(r!.outcome).toBe('request_created');
  const data = readStore(store);
  const request = data.requests.find((q) => q.id === r!.record!.id)!;
  const person = data.people.find((p) => p.id === request.requested_by)!;
  return { subject: request.subject, output: (r as unknown as { request: { subject: string } }).request.subject, person: person.name };
}

const CASES: [string, string, () => { subject: string; person?: string }][] = [
  ['zammad/mail046.box', 'GB2312 Subject and display name, beside an ISO-8859-1 body part', () => ({ subject: zammadSubject('046'), person: '武兰成' })],
  ['zammad/mail093.box', 'Shift_JIS Subject beside an ISO-2022-JP body; Shift_JIS bytes in a word labelled ISO-2022-JP', () => ({ subject: zammadSubject('093'), person: zammad('093', 'from_display_name') })],
  ['zammad/mail105.box', 'Latin-1 Subject (detection unsure, no hint): Latin-1 as before', () => ({ subject: zammadSubject('105') })],
  ['bestpractical-rt/emails/new-ticket-from-iso-8859-1', 'Latin-1 display name beside an ISO-8859-1 body', () => ({ subject: 'Re: rt-3.0.3pre1', person: 'Wilhelmsen Håvard' })],
  ['zbateson-mail-mime-parser/m2004.txt', 'a raw Latin-1 byte inside a quoted-printable word labelled iso-8859-1', () => ({ subject: 'Die Hasen und die Frösche', person: 'Doug Sauder' })],
  ['enmime/low-quality/bad-header-start.raw', 'a first header line that starts with a space', () => ({ subject: 'plain text', person: 'James Hillyerd' })],
  ['mimekit/messages/feedback-report.txt', 'a UTF-8 byte order mark before the first header', () => ({ subject: 'FW: Earn money' })],
  ['php-mime-mail-parser/m0011', 'a line of spaces before the first header', () => ({ subject: 'Hello World !' })],
];

describeStores('corpus messages with undeclared header charsets or an odd start', () => {
  for (const [file, what, want] of CASES) {
    testIf(CORPUS_PRESENT, `${file} (corpus)`)(`${file}: ${what}`, async () => {
      const expected = want();
      // Both parse paths: single-part reading where it applies, and mailparser for everything
      // (on a PostgreSQL store the default path only: how a message is parsed is not the store's).
      for (const env of (PG ? [{}] : [{}, { M4ME_NO_FAST_PARSE: '1' }]) as Record<string, string>[]) {
        const got = await processFile(file, env);
        expect(got.subject).toBe(expected.subject);
        expect(got.output).toBe(expected.subject);
        if (expected.person) expect(got.person).toBe(expected.person);
      }
    }, 30_000);
  }
});

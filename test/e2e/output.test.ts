/** Output, dry-run, the outbox, exit codes of the command line, the clock. */
import { expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, DEMO_NOW, eml, jsonLines, readStore, ROOT, runCli, storeBytes, tempDir, testIf } from '../helpers/cli.js';
import { absentTestStore, describeJsonOnly, describeStores, outboxOf, PG, testJsonOnly, testStore } from '../helpers/stores.js';

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p); else out[p] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

describeStores('process output', () => {
  test('--json gives the contract fields, one line per message', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const r = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], { stdin: eml({ id: 'j@t' }) });
    const [line] = jsonLines(r.stdout);
    expect(Object.keys(line!)).toEqual(expect.arrayContaining(['input', 'message_id', 'recipient', 'outcome', 'rule', 'record', 'request', 'note', 'rejection', 'warnings', 'trace', 'dry_run']));
    expect(line).toMatchObject({ input: 'stdin', message_id: 'j@t', recipient: 'widget-it@mail.4me.com', outcome: 'request_created', dry_run: false });
    expect(r.stderr).toBe('');
  });

  test('human output names the record, team and rule; --explain adds the trace and why', async () => {
    const store = await testStore();
    const plain = await runCli(['process', '--store', store, '--now', DEMO_NOW], { stdin: eml({ id: 'h@t', subject: 'Broken chair' }) });
    // The outcome said once, in words; --dry-run says what would happen and that nothing changed.
    expect(plain.stdout).toMatch(/^created request #100042 "Broken chair" for team Service Desk \[create\.new_request\] stdin\n$/);
    expect(plain.stderr).toBe('');
    expect(plain.stdout).not.toMatch(/defaults\.team/);
    const explained = await runCli(['process', '--dry-run', '--explain', '--store', store, '--now', DEMO_NOW], {
      stdin: readFileSync(join(ROOT, 'samples', '04-monitoring-alert.eml')),
    });
    expect(explained.stdout).toMatch(/✓ parameters\.ci\s+ci = CI 5002/);
    expect(explained.stdout).toMatch(/✓ defaults\.team\s+team 2002: the support team of service instance 4002/);
    expect(explained.stdout).toMatch(/why this team: .*support team of service instance 4002/);
    expect(explained.stdout).not.toMatch(/\x1b\[/); // no colour when not a terminal
    expect(explained.stdout).toMatch(/^would create request #10004\d "PROBLEM: core-switch-1 is DOWN" for team Network /);
    expect(explained.stderr).toBe('dry run: nothing was changed\n');
    // Rules that did not apply are there with a neutral – and why (no ✗: nothing was refused);
    // the deciding rule is marked; the category from a shortcut is explained.
    expect(explained.stdout).toMatch(/– match\.subject_id\s+no number of 6 or more digits/);
    expect(explained.stdout).not.toMatch(/✗/);
    expect(explained.stdout).toMatch(/✓ create\.new_request ◀/);
    expect(explained.stdout).toMatch(/why this category: #incident: /);
    expect(explained.stdout).toMatch(/✓ defaults\.requested_by\s+requested_by 1003: the sender/);
    const byId = await runCli(['process', '--dry-run', '--explain', '--store', store, '--now', DEMO_NOW], {
      stdin: eml({ from: 'Nagios <nagios@monitoring.widget.example>', id: 'why@t', subject: 'Why' }, '#team_id: 2002\n#rfc\n\nBody.\n'),
    });
    expect(byId.stdout).toMatch(/why this team: #team_id: team 2002 \(Network\)/);
    expect(byId.stdout).toMatch(/why this category: #rfc: rfc/);
  });

  test('a batch ends with the summary table on stderr: every outcome; with --verbose, where the time went', async () => {
    const store = await testStore();
    const r = await runCli(['process', '--dry-run', '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').filter((l) => !l.startsWith('  '))).toHaveLength(25); // stdout: the results alone (warnings indented)
    expect(r.stderr).toMatch(/^\n25 messages in [\d.]+ s \(\d+ messages\/s\)\n/);
    for (const o of ['request_created', 'note_added', 'unchanged', 'rejected', 'duplicate', 'failed']) expect(r.stderr).toMatch(new RegExp(`\n  ${o}\\s+\\d+\n`));
    expect(r.stderr).toMatch(/\ndry run: nothing was changed\n$/);
    expect(r.stderr).not.toMatch(/slowest|time: parsing/); // profiling only with --verbose; no spinner off a terminal
    const v = await runCli(['process', '--dry-run', '--verbose', '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')]);
    expect(v.stderr).toMatch(/\n  slowest message: mbox:.*demo\.mbox#\d+ \(\d+ ms\)/);
    expect(v.stderr).toMatch(/\n  slowest rule: [a-z_]+\.[a-zA-Z_.]+ \([\d.]+ ms a time, \d+ times?, \d+% of the rules' time\)/);
  });

  const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
  const spinnerTest = PG ? testJsonOnly('the spinner on a terminal: nothing of it depends on the store') : testIf(script !== undefined || 'script(1) not found', 'the spinner-on-a-terminal test');
  spinnerTest('on a terminal (script(1)): the spinner goes to stderr with count and rate, never to stdout', async () => {
    if (!script) return;
    const dir = tempDir();
    const store = await testStore(dir);
    const mbox = join(dir, 'many.mbox');
    writeFileSync(mbox, Array.from({ length: 3000 }, (_, i) => `From ellen.brown@widget.example Mon Mar  2 08:00:00 2026\n${eml({ id: `tty${i}@t`, subject: `Terminal ${i}` })}\n`).join(''));
    const out = join(dir, 'out');
    // ora shows nothing where CI is set (as in CI) or TERM is dumb: the terminal of a person.
    const { CI: _ci, ...rest } = process.env;
    const terminalEnv = { ...rest, TERM: 'xterm' };
    // script(1) gives the command a terminal; its stdout goes to a file, so the terminal is its stderr.
    const cmd = [process.execPath, BIN, 'process', '--dry-run', '--store', store, '--now', DEMO_NOW, mbox].map((a) => `'${a}'`).join(' ');
    const tty = await new Promise<string>((resolve) => {
      // A bare pty has no size: give it one, as a terminal window has.
      const child = spawn(script, ['-qec', `stty cols 120 rows 40; ${cmd} > '${out}'`, '/dev/null'], { stdio: ['ignore', 'pipe', 'ignore'], env: terminalEnv });
      let text = '';
      child.stdout.on('data', (d) => { text += d; });
      child.on('close', () => resolve(text));
    });
    expect(tty).toMatch(/\d+ messages \(\d+\/s, about \d+ (s|min) left\)/);
    const stdout = readFileSync(out, 'utf8');
    expect(stdout).not.toMatch(/messages \(\d+\/s/);
    expect(stdout.trim().split('\n')).toHaveLength(3000);
    expect(tty).toMatch(/3000 messages in [\d.]+ s/); // the summary, on the terminal (stderr)
  }, 60_000);

  test('--dry-run leaves store, outbox and files byte-identical', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const before = snapshot(dir);
    const document = storeBytes(store); // a PostgreSQL store is not in `dir`: its copy-store document
    const r = await runCli(['process', '--json', '--dry-run', '--store', store, '--now', DEMO_NOW, join(ROOT, 'samples', 'demo.mbox')]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(25);
    expect(lines.every((l) => l.dry_run)).toBe(true);
    expect(snapshot(dir)).toEqual(before);
    expect(storeBytes(store).equals(document)).toBe(true);
  });

  test('a rejection writes an RFC 5322 Email Rejected reply to the outbox', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const r = await runCli(['process', '--json', '--store', store, '--now', DEMO_NOW], {
      stdin: eml({ from: 'Mallory <mallory@stranger.example>', id: 'rej-1@stranger.example', subject: 'Hi' }),
    });
    expect(jsonLines(r.stdout)[0]).toMatchObject({ outcome: 'rejected', rule: 'reject.unknown_sender', rejection: { template: 'email_rejected', to: 'mallory@stranger.example' } });
    const files = readdirSync(outboxOf(store));
    expect(files).toHaveLength(1);
    const text = readFileSync(join(outboxOf(store), files[0]!), 'utf8');
    expect(text).toMatch(/^To: mallory@stranger\.example\r$/m);
    expect(text).toMatch(/^Auto-Submitted: auto-replied\r$/m);
    expect(text).toMatch(/^In-Reply-To: <rej-1@stranger\.example>\r$/m);
    expect(text).toMatch(/^References: <rej-1@stranger\.example>\r$/m);
    expect(text).toMatch(/^Message-ID: <m4me\./m);
    expect(text).toMatch(/^Subject: .*Hi/m);
    expect(readStore(store).auto_replies).toHaveLength(1);
  });

  test('the whole loop: request → acknowledgement in the outbox → reply to it → note', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    await runCli(['process', '--store', store, '--now', DEMO_NOW, '--quiet'], { stdin: eml({ id: 'loop-1@t', subject: 'Desk lamp' }) });
    const ack = readdirSync(outboxOf(store)).find((f) => f.includes('acknowledgement'))!;
    const text = readFileSync(join(outboxOf(store), ack), 'utf8');
    const ackId = /^Message-ID: <([^>]+)>/m.exec(text)![1]!;
    expect(text).toMatch(/^To: ellen\.brown@widget\.example/m);
    expect(readStore(store).notifications).toContainEqual(expect.objectContaining({ message_id: ackId, record: { type: 'request', id: 100042 } }));
    const reply = eml({ id: 'loop-2@t', subject: 'Re: Desk lamp', headers: [`In-Reply-To: <${ackId}>`, `References: <loop-1@t> <${ackId}>`] }, 'It works now, thanks.\n');
    const r = await runCli(['process', '--json', '--store', store, '--now', '2026-03-02T10:00:00+00:00'], { stdin: reply });
    expect(jsonLines(r.stdout)[0]).toMatchObject({ outcome: 'note_added', rule: 'match.notification_reply', record: { type: 'request', id: 100042 } });
    // No automatic reply to a reply to our own message.
    expect(readdirSync(outboxOf(store))).toHaveLength(1);
  });

  test('--clock message replays an archive by each message\'s Date', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const alert = (id: string, date: string) => `From nagios Mon Mar  2 08:00:00 2026\n${eml({
      from: 'nagios@monitoring.widget.example', id, date, subject: 'PROBLEM: fs1 disk',
    }, '#source: Nagios\n#ci: CMP00002\n\nDisk 99%\n')}\n\n`;
    writeFileSync(join(dir, 'replay.mbox'), alert('e1@t', 'Tue, 10 Mar 2026 08:00:00 +0000') + alert('e2@t', 'Tue, 10 Mar 2026 20:00:00 +0000') + alert('e3@t', 'Wed, 11 Mar 2026 09:00:00 +0000'));
    const r = await runCli(['process', '--json', '--clock', 'message', '--store', store, join(dir, 'replay.mbox')]);
    expect(jsonLines(r.stdout).map((l) => [l.outcome, l.rule])).toEqual([
      ['request_created', 'create.new_request'], ['unchanged', 'match.event'], ['request_created', 'create.new_request'],
    ]);
    expect(readStore(store).requests.find((q) => q.sourceID === 'e1@t')!.created_at).toBe('2026-03-10T08:00:00+00:00');
  });
});

describeJsonOnly('usage and configuration errors: no store is read', 'command line errors', () => {
  test.each([
    [['process', '--bogus'], /unknown option '--bogus'/],
    [['process', '--now', 'yesterday'], /--now: expected an ISO 8601/],
    [['process', '--clock', 'sundial'], /--clock/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['show', 'request'], /missing required argument/],
    [['process', '--dryrun'], /unknown option '--dryrun' \(Did you mean --dry-run\?\)/],
    [['shwo', 'request', '1'], /unknown command 'shwo' \(Did you mean show\?\)/],
    [['list', 'request', '--sinc', '7d'], /unknown option '--sinc'/],
    [['outbox', '--sen'], /unknown option '--sen'/],
  ])('%j exits 64 with one line', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/^5\.5\.4 m4me: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  test('an invalid configuration is a temporary failure (75), never a bounce', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.m4merc.json'), JSON.stringify({ mailDomain: 42 }));
    const r = await runCli(['process'], { cwd: dir, stdin: eml({}) });
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/^4\.3\.5 m4me: .*mailDomain/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('operator commands with a broken or missing configuration: one 4.3.5 line, exit 78; init creates nothing', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ mailDomain: 42 }));
    for (const args of [['list', 'request'], ['show', 'request', '100001'], ['outbox'], ['init']]) {
      for (const config of ['bad.json', 'missing.json']) {
        const r = await runCli([...args, '--config', config], { cwd: dir });
        expect([args, config, r.code]).toEqual([args, config, 78]);
        expect(r.stderr).toMatch(/^4\.3\.5 m4me: invalid configuration: .*(mailDomain|does not exist)/);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    }
    expect(existsSync(join(dir, 'm4me-store.json'))).toBe(false);
  });

});

describeStores('init', () => {
  test('init creates a store, refuses to overwrite it without --force', async () => {
    const dir = tempDir();
    const path = await absentTestStore(dir, join('sub', 'store.json'));
    expect((await runCli(['init', '--store', path])).code).toBe(0);
    expect(readStore(path).requests).toEqual([]);
    const again = await runCli(['init', '--demo', '--store', path]);
    expect(again.code).toBe(64);
    expect(again.stderr).toMatch(PG ? /already has content \(use --force to replace it\)/ : /already exists/);
    expect((await runCli(['init', '--demo', '--force', '--store', path])).code).toBe(0);
    expect(readStore(path).accounts.map((a) => a.id)).toEqual(['widget', 'widget-it', 'widget-hr', 'acme-hosting']);
    if (!PG) expect(existsSync(path)).toBe(true);
  });
});

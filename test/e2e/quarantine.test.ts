/**
 * `m4me quarantine list|retry`: a message refused as too large (5.3.4) or unreadable (5.6.0) is
 * kept with its envelope; once the cause is fixed a retry processes it as the mail system
 * delivered it (its own envelope recipient), and it leaves the quarantine; one that still
 * cannot be read stays, unchanged, and is not quarantined twice.
 */
import { expect, test } from '@jest/globals';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, eml, readStore, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, quarantineOf, testStore } from '../helpers/stores.js';

describeStores('m4me quarantine', () => {
  test('list shows why and the envelope; retry after the fix delivers with that envelope; the unreadable stays', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const config = join(dir, 'm4merc.json');
    const writeConfig = (maxMessageBytes: number) => writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'], maxMessageBytes }));
    writeConfig(2000);
    const big = eml({ id: 'big@widget.example', subject: 'Large printer log', to: 'widget-it@mail.4me.com' }, `${'log line\n'.repeat(400)}`);
    const deliver = (stdin: string | Buffer) => runCli(['process', '--config', config, '--recipient', 'network.widget-it@mail.4me.com', '--now', DEMO_NOW], { stdin });
    const r1 = await deliver(big);
    expect(r1.code).toBe(65);
    expect(r1.stderr).toMatch(/^5\.3\.4 m4me: message of \d+ bytes is larger than maxMessageBytes 2000\n$/);
    const junk = Buffer.from('\u0000\u0001 not mail at all \u00ff\n');
    expect((await deliver(junk)).code).toBe(65);

    const list = await runCli(['quarantine', 'list', '--json', '--config', config]);
    expect(list.code).toBe(0);
    const listed = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; status: string; recipients: string[]; bytes: number });
    expect(listed.map((e) => e.status).sort()).toEqual(['5.3.4', '5.6.0']);
    expect(listed.every((e) => e.recipients[0] === 'network.widget-it@mail.4me.com')).toBe(true);
    const human = await runCli(['quarantine', 'list', '--config', config]);
    expect(human.stdout).toMatch(/5\.3\.4 message of \d+ bytes is larger than maxMessageBytes 2000/);
    expect(human.stderr).toMatch(/^2 messages in quarantine /);

    // Dry run: says what would happen, changes nothing.
    writeConfig(1 << 20);
    const quarantine = quarantineOf(store);
    const before = readdirSync(quarantine).sort();
    const dry = await runCli(['quarantine', 'retry', '--all', '--dry-run', '--config', config]);
    expect(dry.stdout).toMatch(/: would be request_created request #100042 \[create\.new_request\]\n/);
    expect(readdirSync(quarantine).sort()).toEqual(before);
    expect(readStore(store).requests.some((r) => r.message_id === 'big@widget.example')).toBe(false);

    const retry = await runCli(['quarantine', 'retry', '--all', '--config', config]);
    expect(retry.code).toBe(65); // one message is still unreadable
    expect(retry.stdout).toMatch(/: request_created request #100042 \[create\.new_request\], removed from quarantine\n/);
    expect(retry.stdout).toMatch(/: still unreadable: 5\.6\.0 message could not be read as email/);
    const request = readStore(store).requests.find((r) => r.message_id === 'big@widget.example')!;
    expect(request.team).toBe(2002); // the envelope recipient's team (Network), not the To: header's account desk
    const left = readdirSync(quarantine);
    expect(left).toHaveLength(2); // the junk .eml and its .json, once: not quarantined again
    expect(readFileSync(join(quarantine, left.find((f) => f.endsWith('.eml'))!))).toEqual(junk);
  });

  test('retry with no name and no --all is a usage error; an unknown name too', async () => {
    const dir = tempDir();
    const store = await testStore(dir);
    const none = await runCli(['quarantine', 'retry', '--store', store]);
    expect([none.code, none.stderr]).toEqual([64, expect.stringMatching(/^5\.5\.4 m4me: name the messages to retry/)]);
    const unknown = await runCli(['quarantine', 'retry', 'nope.eml', '--store', store]);
    expect(unknown.code).toBe(64);
  });
});

/**
 * `m4me outbox --send` hands each reply to sendmail at most once: when it cannot record the
 * send (sent/ unusable), the reply stays in sending/ and no later run sends it again; when it
 * cannot even take the reply out of the queue first, sendmail is never called.
 */
import { expect, test } from '@jest/globals';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_NOW, eml, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, outboxOf, testStore } from '../helpers/stores.js';

async function siteWithOneReply() {
  const dir = tempDir();
  const store = await testStore(dir);
  const log = join(dir, 'sent.log');
  const fake = join(dir, 'fake-sendmail');
  writeFileSync(fake, `#!/bin/sh\ncat >> '${log}'\necho '--- sent' >> '${log}'\n`);
  chmodSync(fake, 0o755);
  const config = join(dir, 'm4merc.json');
  writeFileSync(config, JSON.stringify({ store, mailDomain: ['mail.4me.com'], sendmail: `${fake} -t -i` }));
  const r = await runCli(['process', '--config', config, '--now', DEMO_NOW], { stdin: eml({ from: 'Mallory <mallory@stranger.example>', id: 'once@stranger.example', subject: 'Hello' }) });
  expect(r.code).toBe(0);
  const outbox = outboxOf(store);
  expect(readdirSync(outbox).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
  const sends = () => (existsSync(log) ? readFileSync(log, 'utf8').split('--- sent').length - 1 : 0);
  return { dir, config, outbox, sends };
}

describeStores('outbox --send: at most once', () => {
  test('sent/ unusable: sent once, then held in sending/ and never sent again; moved back by hand, sent again', async () => {
    const { config, outbox, sends } = await siteWithOneReply();
    writeFileSync(join(outbox, 'sent'), 'not a folder'); // as unusable as a sent/ owned by root
    const check = await runCli(['check-config', '--config', config]);
    expect(check.code).toBe(78);
    expect(check.stdout).toMatch(/outbox sent\/: .*sent is not a folder/);
    const first = await runCli(['outbox', '--send', '--config', config]);
    expect(sends()).toBe(1);
    expect(first.code).toBe(75);
    expect(first.stdout).toMatch(/^sent .*mallory@stranger\.example.*\(sent, but cannot be moved to .*sent.*it stays in sending\/ and is not sent again\)/m);
    expect(first.stderr).toMatch(/^4\.4\.0 m4me: 1 message in .*sending may have been sent: not sent again\n$/);
    for (let i = 0; i < 2; i++) {
      const again = await runCli(['outbox', '--send', '--config', config]);
      expect(again.stdout).toMatch(/^uncertain .*mallory@stranger\.example/m);
    }
    expect(sends()).toBe(1);
    const listed = await runCli(['outbox', '--json', '--config', config]);
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l).status)).toEqual(['uncertain']);
    // The operator decides: fixes sent/ and puts the reply back in the queue.
    rmSync(join(outbox, 'sent'));
    const [f] = readdirSync(join(outbox, 'sending'));
    renameSync(join(outbox, 'sending', f!), join(outbox, f!));
    const fixed = await runCli(['outbox', '--send', '--config', config]);
    expect([fixed.code, sends()]).toEqual([0, 2]);
    expect(readdirSync(join(outbox, 'sent'))).toEqual([f]);
  });

  test('the reply cannot leave the queue first: sendmail is never called, it stays queued, 75', async () => {
    const { config, outbox, sends } = await siteWithOneReply();
    writeFileSync(join(outbox, 'sending'), 'not a folder');
    const r = await runCli(['outbox', '--send', '--config', config]);
    expect(r.code).toBe(75);
    expect(sends()).toBe(0);
    expect(r.stderr).toMatch(/^4\.4\.0 m4me: 1 of 1 message not sent \(not sent: cannot move it to .*sending first/);
    expect(readdirSync(outbox).filter((x) => x.endsWith('.eml'))).toHaveLength(1);
    rmSync(join(outbox, 'sending'));
    mkdirSync(join(outbox, 'sending'));
    expect((await runCli(['outbox', '--send', '--config', config])).code).toBe(0);
    expect(sends()).toBe(1);
  });
});

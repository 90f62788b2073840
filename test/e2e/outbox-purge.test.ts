/** `m4me outbox purge`: replies dated before a date, and replies the store never recorded. */
import { expect, test } from '@jest/globals';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import { describeStores, outboxOf, testStore } from '../helpers/stores.js';

const queued = (store: string) => readdirSync(outboxOf(store)).filter((f) => f.endsWith('.eml')).sort();

describeStores('outbox purge', () => {
  test('--before: a replay\'s old replies go, today\'s stay; --dry-run changes nothing; --orphans: what the store never recorded', async () => {
    const store = await testStore(tempDir());
    await runCli(['process', '--quiet', '--store', store, '--now', '2026-01-02T09:00:00+00:00', join(ROOT, 'samples', '12-unknown-sender.eml')]);
    await runCli(['process', '--quiet', '--store', store, '--now', '2026-03-02T09:00:00+00:00', join(ROOT, 'samples', '13-unknown-address.eml'), join(ROOT, 'samples', '01-end-user-request.eml')]);
    const all = queued(store);
    expect(all.length).toBe(3);
    const dry = await runCli(['outbox', 'purge', '--before', '2026-02-01', '--dry-run', '--store', store]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would purge {2}queued .*\(dated Fri, 02 Jan 2026 09:00:00 \+0000\)\n$/);
    expect(dry.stderr).toBe('1 message would be purged (dry run: nothing was changed)\n');
    expect(queued(store)).toEqual(all);
    const r = await runCli(['outbox', 'purge', '--before', '2026-02-01', '--store', store]);
    expect(r.stderr).toBe('1 message purged\n');
    expect(queued(store)).toHaveLength(2);
    // A reply a killed run wrote and the store never recorded: never sent, purged by --orphans.
    const orphan = join(outboxOf(store), '20260302090000-email_rejected-orphan.eml');
    writeFileSync(orphan, readFileSync(join(outboxOf(store), queued(store)[0]!), 'utf8').replace(/^Message-ID: <[^>]+>/m, 'Message-ID: <m4me.rejected.0000000000000000@mail.4me.com>'));
    const o = await runCli(['outbox', 'purge', '--orphans', '--store', store]);
    expect(o.stdout).toMatch(/^purged {2}queued .*\(not recorded in the store\)\n$/);
    expect(queued(store)).toHaveLength(2);
    expect(queued(store)).not.toContain('20260302090000-email_rejected-orphan.eml');
    const none = await runCli(['outbox', 'purge', '--store', store]);
    expect(none.code).toBe(64);
  });
});

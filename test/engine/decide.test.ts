/** The engine is pure: decide() reads nothing but its arguments and changes none of them. */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide } from '../../src/engine/pipeline.js';
import type { Policy } from '../../src/engine/types.js';
import { parseEmail } from '../../src/mail/parse.js';
import { demoStore } from '../../src/store/demo.js';
import { StoreIndex } from '../../src/store/indexes.js';
import { ROOT } from '../helpers/cli.js';

const policy: Policy = {
  mailDomains: ['mail.4me.com'], aliases: {}, trustedAuthservIds: ['mx.widget.example'], envelopeRecipient: null,
  acknowledgements: true, maxAutoRepliesPerDay: 20, maxAttachments: 20, filesDir: 'store.json.files',
};
const at = (iso: string) => ({ now: Date.parse(iso) });
const sample = (name: string) => parseEmail(readFileSync(join(ROOT, 'samples', `${name}.eml`)));

describe('decide', () => {
  test('same inputs, same decision; the store view is not changed', async () => {
    const data = demoStore();
    const before = JSON.stringify(data);
    const index = new StoreIndex(data);
    const email = await sample('04-monitoring-alert');
    const a = decide(email, index, policy, at('2026-03-02T09:00:00Z'));
    const b = decide(email, index, policy, at('2026-03-02T09:00:00Z'));
    expect(b).toEqual(a);
    expect(JSON.stringify(data)).toBe(before);
    expect(a.outcome).toBe('request_created');
    expect(a.request).toMatchObject({ id: 100042, ci: 5002, service_instance: 4002, team: 2002, created_at: '2026-03-02T09:00:00+00:00' });
  });

  test('the injected clock decides event matching', async () => {
    const index = new StoreIndex(demoStore());
    const email = await sample('06-event-same-text');
    expect(decide(email, index, policy, at('2026-03-02T09:00:00Z')).outcome).toBe('unchanged');
    expect(decide(email, index, policy, at('2026-03-03T09:00:00Z')).outcome).toBe('request_created');
  });

  test('every decision explains itself: the deciding rule is in the trace', async () => {
    const index = new StoreIndex(demoStore());
    for (const name of ['01-end-user-request', '07-notification-reply', '09-source-sourceid', '12-unknown-sender', '18-x4me-from-wrong-secret']) {
      const d = decide(await sample(name), index, policy, at('2026-03-02T09:00:00Z'));
      expect(d.trace.map((t) => t.rule)).toContain(d.rule === 'reject.unknown_sender' ? 'sender.auto_create' : d.rule === 'reject.from_override' ? 'sender.from_override' : d.rule);
      expect(d.trace.every((t) => ['matched', 'not_matched', 'applied', 'skipped', 'ignored', 'failed'].includes(t.result))).toBe(true);
    }
  });
});

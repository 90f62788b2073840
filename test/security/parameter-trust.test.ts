/**
 * `parameterTrust: "dmarc"` (off by default, as the spec wants parameters from any Specialist):
 * #parameters are honoured only from a message a trusted Authentication-Results header says
 * passed DMARC, so mail with a forged monitoring From sets nothing; the trace says why, and
 * the parameter lines stay in the note as the text they then are.
 */
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchemaProblems } from '../../src/cli/config-schema.js';
import { configProblems } from '../../src/cli/config.js';
import { demoStoreFile, eml, runCli, tempDir } from '../helpers/cli.js';
import { processMessage } from '../helpers/mime.js';

const TRUSTED = 'mx.widget.example';
const PASS = `Authentication-Results: ${TRUSTED}; spf=pass smtp.mailfrom=monitoring.widget.example; dmarc=pass header.from=monitoring.widget.example`;
const alert = (headers: string[]) => eml({ from: 'Nagios <nagios@monitoring.widget.example>', subject: `Disk full ${Math.random()}`, headers }, '#impact: high\n#category: incident\n\nDisk / is full.\n');

describe('parameterTrust', () => {
  test('"dmarc": a forged monitoring From (no Authentication-Results) sets nothing, and the trace says why', async () => {
    const p = await processMessage(alert([]), { config: { trustedAuthservIds: [TRUSTED], parameterTrust: 'dmarc' } });
    expect(p.run.stderr).toBe('');
    expect(p.line.outcome).toBe('request_created');
    expect(p.line.request).toMatchObject({ impact: null, category: 'other' });
    expect(p.line.trace).toContainEqual(expect.objectContaining({
      rule: 'parameters.trust', result: 'ignored', detail: expect.stringMatching(/parameterTrust is "dmarc".*no trusted Authentication-Results header/),
    }));
    expect(p.line.trace.filter((t) => t.rule === 'parameters.impact')).toEqual([]);
    expect(p.line.note!.text).toContain('#impact: high');
  });

  test('"dmarc": an untrusted or failed dmarc result sets nothing either', async () => {
    for (const ar of [`Authentication-Results: attacker.example; dmarc=pass`, `Authentication-Results: ${TRUSTED}; dmarc=fail`]) {
      const p = await processMessage(alert([ar]), { config: { trustedAuthservIds: [TRUSTED], parameterTrust: 'dmarc' } });
      expect(p.line.request).toMatchObject({ impact: null });
      expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'parameters.trust', result: 'ignored' }));
    }
  });

  test('"dmarc": a trusted dmarc=pass from a Specialist: the parameters are honoured', async () => {
    const p = await processMessage(alert([PASS]), { config: { trustedAuthservIds: [TRUSTED], parameterTrust: 'dmarc' } });
    expect(p.line.request).toMatchObject({ impact: 'high', category: 'incident' });
    expect(p.line.trace).toContainEqual(expect.objectContaining({ rule: 'parameters.trust', result: 'matched', detail: expect.stringMatching(/dmarc=pass by mx\.widget\.example/) }));
    expect(p.line.note!.text).not.toContain('#impact');
  });

  test.each([[{}], [{ parameterTrust: 'any' }]])('%j (the default): parameters from a Specialist without any DMARC result', async (extra) => {
    const p = await processMessage(alert([]), { config: { trustedAuthservIds: [TRUSTED], ...extra } });
    expect(p.line.request).toMatchObject({ impact: 'high', category: 'incident' });
    expect(p.line.trace.filter((t) => t.rule === 'parameters.trust')).toEqual([]);
  });

  test('a value other than "any" or "dmarc" is refused by the delivery (75) and by check-config (78), with the same key', async () => {
    const dir = tempDir();
    const store = demoStoreFile(dir);
    const config = join(dir, 'm4me.json');
    writeFileSync(config, JSON.stringify({ parameterTrust: 'always' }));
    const run = await runCli(['process', '--store', store, '--config', config], { stdin: alert([]) });
    expect(run.code).toBe(75);
    expect(run.stderr).toMatch(/^4\.3\.5 m4me: invalid configuration: .*parameterTrust/);
    const check = await runCli(['check-config', '--store', store, '--config', config]);
    expect(check.code).toBe(78);
    expect(check.stdout + check.stderr).toMatch(/parameterTrust/);
    for (const raw of [{ parameterTrust: 'always' }, { parameterTrust: true }, { parameterTrust: 'DMARC' }]) {
      expect(configProblems(raw)).toHaveLength(1);
      expect(await configSchemaProblems(raw)).toHaveLength(1);
    }
    for (const raw of [{ parameterTrust: 'any' }, { parameterTrust: 'dmarc' }]) {
      expect(configProblems(raw)).toEqual([]);
      expect(await configSchemaProblems(raw)).toEqual([]);
    }
  });
});

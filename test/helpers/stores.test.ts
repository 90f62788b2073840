/**
 * Every end-to-end suite says whether it runs against both stores (test/helpers/stores.ts):
 * its blocks are describeStores or describeJsonOnly, never a bare describe (which the
 * e2e-pg project would run against JSON files a second time, saying nothing), and every
 * block or test kept from the PostgreSQL store gives its reason.
 */
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

const E2E = join(ROOT, 'test', 'e2e');
const files = readdirSync(E2E).filter((f) => f.endsWith('.test.ts')).sort();

describe('the e2e suites and the two stores', () => {
  test('there are suites on both stores, and suites on the JSON store only', () => {
    const both = files.filter((f) => readFileSync(join(E2E, f), 'utf8').includes('describeStores('));
    expect(both.length).toBeGreaterThanOrEqual(10);
    expect(both.length).toBeLessThan(files.length);
  });

  test.each(files)('%s: every block is describeStores or describeJsonOnly, every exception has its reason', (file) => {
    const text = readFileSync(join(E2E, file), 'utf8');
    const blocks = [...text.matchAll(/^(\w+(?:\.\w+)?)\(/gm)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b !== 'describeStores' && b !== 'describeJsonOnly')).toEqual([]);
    // The reason is the first argument: a string literal that says something.
    for (const m of text.matchAll(/\b(describeJsonOnly|testJsonOnly)\(\s*(['`])((?:\\.|(?!\2).)*)\2/g)) {
      expect({ file, what: m[1], reason: m[3]!.trim().length > 10 }).toEqual({ file, what: m[1], reason: true });
    }
    const marks = [...text.matchAll(/\b(describeJsonOnly|testJsonOnly)\(/g)].length;
    const reasoned = [...text.matchAll(/\b(describeJsonOnly|testJsonOnly)\(\s*['`]/g)].length;
    expect(reasoned).toBe(marks);
    expect(text).not.toMatch(/import \{[^}]*\bdescribe\b[^}]*\} from '@jest\/globals'/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { subjectIds } from '../../src/engine/matching.js';

describe('subject IDs (at least 6 digits, after nothing, whitespace or #, before nothing, whitespace or a word break)', () => {
  it.each([
    ['123456', [123456]],
    ['Re: [#100002] printer', [100002]],
    ['Update on request #123456.', [123456]],
    ['12345 is too short', []],
    ['A123456 has a letter prefix', []],
    ['123456abc has letters after', []],
    ['(123456) has a bracket before', []],
    ['first 100001 then #100002 and 100003', [100001, 100002, 100003]],
    ['1234567', [1234567]],
    ['0100002 starts with a zero', []],
    ['12345678901234567890 is longer than any ID', []],
  ])('%s', (subject, ids) => {
    expect(subjectIds(subject)).toEqual(ids);
  });
});

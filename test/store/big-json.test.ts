/**
 * A store past V8's longest string (about 512 MB) is read row by row from its bytes: the
 * result must be exactly JSON.parse's, and a broken document must still be a SyntaxError.
 * (The bench opens a real 723 MB store; here the scanner is checked on small documents.)
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseLargeDocument } from '../../src/store/big-json.js';

const parse = (text: string) => parseLargeDocument(Buffer.from(text, 'utf8'));

describe('parseLargeDocument', () => {
  it.each([
    '{}', ' { } ', '{"a":[]}', '{"a":[ ]}',
    '{"requests":[{"id":1,"subject":"a \\"quoted\\" ] } , text"},{"id":2,"t":"\\\\"}],"x":null,"y":{"z":[1,2]}}',
    '{\n  "accounts": [\n    {\n      "id": "widget",\n      "name": "Wïdget ✓ 🙂"\n    }\n  ],\n  "n": -1.5e3,\n  "b": true\n}',
    '{"a":["x",1,null,false,[[]],{"k":"}"}]}',
    '{"__proto__":{"polluted":true},"b":[{"__proto__":1}]}',
  ])('%s: what JSON.parse gives', (text) => {
    expect(parse(text)).toEqual(JSON.parse(text));
  });

  it('any JSON object of arrays and values, however formatted', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.oneof(fc.array(fc.jsonValue()), fc.jsonValue())), fc.integer({ min: 0, max: 2 }), (doc, indent) => {
      const text = JSON.stringify(doc, null, indent);
      expect(parse(text)).toEqual(JSON.parse(text));
    }), { seed: 20261202, numRuns: 300 });
  });

  it.each(['{"a":[1,2}', '{"a":"x', '{"a" 1}', '{"a":1,}', '{"a":1} x', '{"a":[1 2]}', '{"a":tru}'])('%s: a SyntaxError', (text) => {
    expect(() => parse(text)).toThrow(SyntaxError);
  });
});

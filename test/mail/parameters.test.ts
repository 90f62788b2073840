import { describe, expect, it } from '@jest/globals';
import { splitParameters } from '../../src/mail/parameters.js';
import { parseAuthResults } from '../../src/mail/parse.js';

describe('splitParameters', () => {
  it('takes #name: value and #shortcut lines up to the first blank line', () => {
    const { parameters, text } = splitParameters('#sourceID: 12345\n#ci: CMP00001\n#incident\n#top\n\nThis text is added as a Note.\n');
    expect(parameters.map((p) => [p.name, p.value])).toEqual([['sourceID', '12345'], ['ci', 'CMP00001'], ['incident', ''], ['top', '']]);
    expect(text).toBe('This text is added as a Note.\n');
  });

  it('stops at the first line that is not a parameter', () => {
    const { parameters, text } = splitParameters('#high\nServer down\n#not: a parameter any more');
    expect(parameters.map((p) => p.name)).toEqual(['high']);
    expect(text).toBe('Server down\n#not: a parameter any more');
  });

  it('reads a trailing @account qualifier, but not an email address value', () => {
    const { parameters } = splitParameters('#ci: P31 @other_account\n#member: john.smith@example.com\n#team: SAP Basis Support @other\n');
    expect(parameters.map((p) => [p.name, p.value, p.account])).toEqual([
      ['ci', 'P31', 'other_account'], ['member', 'john.smith@example.com', null], ['team', 'SAP Basis Support', 'other'],
    ]);
  });

  it('qualifies only parameters that name a record: elsewhere " @x" is part of the value', () => {
    const { parameters } = splitParameters('#custom_field_owner: Contact @helpdesk\n#sourceID: abc @widget\n#category: rfc @other\n#team_id: 2002 @other\n');
    expect(parameters.map((p) => [p.name, p.value, p.account])).toEqual([
      ['custom_field_owner', 'Contact @helpdesk', null], ['sourceID', 'abc @widget', null], ['category', 'rfc @other', null], ['team_id', '2002', 'other'],
    ]);
  });

  it('keeps the spec spellings of sourceID and custom field IDs, whatever the case written', () => {
    const { parameters } = splitParameters('#SOURCEID: x\n#Ci_SourceId: y\n#custom_field_Cost_Center: CH999\n#Category: rfc\n');
    expect(parameters.map((p) => p.name)).toEqual(['sourceID', 'ci_sourceID', 'custom_field_Cost_Center', 'category']);
  });

  it('leaves a body without parameters as it is', () => {
    expect(splitParameters('Hello\n#not first')).toEqual({ parameters: [], text: 'Hello\n#not first' });
    expect(splitParameters('# heading: no name\n')).toEqual({ parameters: [], text: '# heading: no name\n' });
  });
});

describe('parseAuthResults (RFC 8601)', () => {
  it('reads the authserv-id and each method result, ignoring comments and a version', () => {
    expect(parseAuthResults('mx.widget.example 1; spf=pass (sender ok) smtp.mailfrom=w.example; dmarc=pass header.from=widget.example'))
      .toEqual({ authservId: 'mx.widget.example', results: { spf: 'pass', dmarc: 'pass' } });
    expect(parseAuthResults('MX.Example; none')).toEqual({ authservId: 'mx.example', results: {} });
    expect(parseAuthResults('')).toBeNull();
  });
});

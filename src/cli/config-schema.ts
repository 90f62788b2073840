/**
 * The configuration (CONTRACT §2) as a JSON Schema, for `m4me check-config`: checked with ajv,
 * every problem reported with its JSON path and what the key expects. A delivery checks the
 * same rules with configProblems (./config.ts) without loading ajv; a test keeps the two in
 * agreement.
 */
import type { ErrorObject } from 'ajv';
import type { Problem } from '../store/validate.js';

const LABEL = '(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)';
const DOMAIN = `^(?=.{1,253}$)(?:${LABEL}\\.)*${LABEL}$`;
const ADDRESS = `^[^\\s@<>()\\[\\],;:"]+@(?:${LABEL}\\.)*${LABEL}$`;
const domain = { type: 'string', pattern: DOMAIN };
const address = { type: 'string', pattern: ADDRESS };
const nonNegative = { type: 'integer', minimum: 0 };

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    store: { type: 'string', minLength: 1, description: 'the JSON store file, e.g. ./m4me-store.json' },
    mailDomain: { anyOf: [domain, { type: 'array', items: domain, minItems: 1 }], description: 'the inbound domain, or a list of them: mail.4me.com' },
    aliases: { type: 'object', propertyNames: { pattern: ADDRESS }, additionalProperties: address, description: 'address → the inbound address it stands for' },
    trustedAuthservIds: { type: 'array', items: { type: 'string' }, description: 'authserv-ids of the Authentication-Results headers to believe, e.g. ["mx.corp.example"]' },
    outbox: { type: 'string', minLength: 1, description: 'the folder of outgoing mail' },
    quarantine: { type: 'string', minLength: 1, description: 'the folder of messages that could not be read' },
    sendmail: { type: 'string', minLength: 1, description: 'the command outbox --send runs, e.g. /usr/sbin/sendmail -t -i' },
    lockTimeoutMs: { ...nonNegative, description: 'ms to wait for the store lock, e.g. 30000' },
    maxMessageBytes: { type: 'integer', minimum: 1, description: 'the largest message processed, in bytes, e.g. 52428800' },
    acknowledgements: { type: 'boolean', description: 'true or false: acknowledge new requests' },
    maxAutoRepliesPerDay: { ...nonNegative, description: 'automatic replies to one address a day, e.g. 20' },
    maxAttachments: { ...nonNegative, description: 'attachments kept from one message, e.g. 20' },
    parameterTrust: { enum: ['any', 'dmarc'], description: '"any" (the default) or "dmarc": #parameters only from mail with a trusted dmarc=pass' },
  },
} as const;

const KNOWN = Object.keys(CONFIG_SCHEMA.properties);

/** A problem as one line: the key's path, what is wrong in words, and what the key expects. */
export function describeConfigProblem(p: Problem): string {
  const key = p.at.split('/')[1] ?? '';
  const hint = (CONFIG_SCHEMA.properties as Record<string, { description?: string }>)[key]?.description;
  if (p.keyword === 'additionalProperties') return `${p.at}: unknown key (known: ${KNOWN.join(', ')})`;
  if (p.keyword === 'propertyNames') return `${p.at}: "${String(p.key)}" is not an email address`;
  const what = p.keyword === 'pattern' ? `${JSON.stringify(p.value)} is not ${key === 'mailDomain' ? 'a domain name' : 'an email address'}` : p.message;
  return `${p.at || '(top level)'}: ${what}${hint ? ` (${hint})` : ''}`;
}

/**
 * Every problem of a raw configuration object, as ajv finds them (check-config's full report).
 * A delivery checks the same schema without ajv (configProblems in ./config.ts, through
 * ../store/validate.ts); a test keeps the two in agreement.
 */
export async function configSchemaProblems(raw: unknown): Promise<string[]> {
  const { default: Ajv } = await import('ajv');
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  const validate = ajv.compile(CONFIG_SCHEMA);
  if (validate(raw)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of (validate.errors ?? []) as ErrorObject[]) {
    // anyOf reports each branch: keep the branch the value is of (a list, or not a list).
    if (e.keyword === 'anyOf') continue;
    const branch = /\/anyOf\/(\d+)\/type$/.exec(e.schemaPath);
    if (branch) {
      if (branch[1] !== '0' || Array.isArray(valueAt(raw, e.instancePath))) continue;
      e.message = 'must be a string or a list of strings';
    }
    const at = e.keyword === 'additionalProperties' && e.instancePath === ''
      ? `/${String(e.params.additionalProperty)}` : e.instancePath;
    if (seen.has(at)) continue;
    seen.add(at);
    const keyword = e.keyword === 'pattern' && e.propertyName !== undefined ? 'propertyNames' : e.keyword;
    out.push(describeConfigProblem({ at, keyword, message: e.message ?? '', value: valueAt(raw, e.instancePath), key: String(e.params.propertyName ?? e.propertyName) }));
  }
  return out;
}

function valueAt(raw: unknown, pointer: string): unknown {
  let v = raw as Record<string, unknown> | undefined;
  for (const part of pointer.split('/').slice(1)) v = v?.[part.replace(/~1/g, '/').replace(/~0/g, '~')] as Record<string, unknown> | undefined;
  return v;
}

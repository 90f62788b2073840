import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { nothingToFind } from './config-search.js';
import { isPgUrl } from '../store/pg/url.js';

/** The configuration of CONTRACT §2, with the keys m4me adds, paths made absolute. */
export interface Config {
  store: string;
  mailDomains: string[];
  aliases: Record<string, string>;
  trustedAuthservIds: string[];
  outbox: string;
  quarantine: string;
  sendmail: string;
  lockTimeoutMs: number;
  maxMessageBytes: number;
  acknowledgements: boolean;
  maxAutoRepliesPerDay: number;
  maxAttachments: number;
  /** "dmarc": #parameters only from mail with a trusted dmarc=pass (default "any"). */
  parameterTrust: 'any' | 'dmarc';
  /** Where the configuration came from, or null for built-in defaults. */
  file: string | null;
  /** The configuration object as read (empty without a file). */
  raw: Record<string, unknown>;
}

export class ConfigError extends Error {
  /** The configuration object as read, when it could be read. */
  raw: unknown = undefined;

  constructor(readonly problems: string[], readonly file: string | null) {
    super(`${file ?? 'configuration'}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const KEYS: Record<string, string> = {
  store: 'string', mailDomain: 'string or list of strings', aliases: 'object', trustedAuthservIds: 'list of strings',
  outbox: 'string', quarantine: 'string', sendmail: 'string', lockTimeoutMs: 'non-negative integer',
  maxMessageBytes: 'positive integer', acknowledgements: 'boolean', maxAutoRepliesPerDay: 'non-negative integer',
  maxAttachments: 'non-negative integer', parameterTrust: 'string "any" or "dmarc"',
};

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const ADDRESS = /^[^\s@<>()\[\],;:"]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const isStringList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Every problem of a raw configuration object, each with its key and what was expected. */
export function configProblems(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ['the configuration is not an object of keys'];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const want = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined; // a key named `constructor` is unknown
    if (!want) { problems.push(`${key}: unknown key (known: ${Object.keys(KEYS).join(', ')})`); continue; }
    const ok =
      want === 'string' ? typeof value === 'string' && value !== ''
      : want === 'boolean' ? typeof value === 'boolean'
      : want === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value)
        && Object.values(value).every((v) => typeof v === 'string')
      : want === 'list of strings' ? isStringList(value)
      : want === 'string or list of strings' ? (typeof value === 'string' && value !== '') || (isStringList(value) && (value as string[]).length > 0)
      : want === 'positive integer' ? Number.isInteger(value) && (value as number) > 0
      : want === 'string "any" or "dmarc"' ? value === 'any' || value === 'dmarc'
      : Number.isInteger(value) && (value as number) >= 0;
    if (!ok) { problems.push(`${key}: expected a ${want}${want === 'object' ? ' of address → address strings' : ''}, got ${JSON.stringify(value)}`); continue; }
    if (key === 'mailDomain') {
      for (const d of ([] as string[]).concat(value as string | string[])) {
        if (!DOMAIN.test(d.trim())) problems.push(`mailDomain: "${d}" is not a domain name (e.g. mail.4me.com)`);
      }
    }
    if (key === 'aliases') {
      for (const [from, to] of Object.entries(value as Record<string, string>)) {
        if (!ADDRESS.test(from.trim())) problems.push(`aliases: "${from}" is not an email address`);
        if (!ADDRESS.test(to.trim())) problems.push(`aliases.${from}: "${to}" is not an email address (the inbound address it stands for)`);
      }
    }
  }
  return problems;
}

export interface LoadOptions { configFile?: string; store?: string; cwd?: string }

/** Finds and validates the configuration (cosmiconfig, module name `m4me`). */
/**
 * The system-wide configuration, tried when nothing else names or finds one (a pipe transport
 * runs m4me from Postfix's folder, where no search finds anything). M4ME_SYSTEM_CONFIG_DIR
 * moves it, for packagers (/usr/local/etc/m4me) and tests.
 */
function systemConfig(): string | null {
  const dir = process.env.M4ME_SYSTEM_CONFIG_DIR || '/etc/m4me';
  return ['m4merc.json', 'm4merc.yaml'].map((f) => join(dir, f)).find((f) => existsSync(f)) ?? null;
}

/** Where the configuration comes from: --config, then M4ME_CONFIG, then cosmiconfig's search, then /etc/m4me. */
export async function loadConfig(opts: LoadOptions): Promise<Config> {
  const named = opts.configFile || process.env.M4ME_CONFIG || undefined;
  // cosmiconfig is loaded only when there may be something for it to find (./config-search.ts).
  let explorer: ReturnType<typeof import('cosmiconfig').cosmiconfig> | null = null;
  const cwd = opts.cwd ?? process.cwd();
  const system = named || !nothingToFind(cwd) ? null : systemConfig();
  if (named || system || !nothingToFind(cwd)) {
    const { cosmiconfig } = await import('cosmiconfig');
    explorer = cosmiconfig('m4me', { searchStrategy: 'project' });
  }
  let result: { config: unknown; filepath: string } | null = null;
  try {
    if (explorer) {
      result = named ? await explorer.load(resolve(cwd, named))
        : system ? await explorer.load(system)
        : await explorer.search(cwd) ?? (systemConfig() ? await explorer.load(systemConfig()!) : null);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // cosmiconfig puts the parser's reason on the line after "JSON Error in FILE:".
    const why = e.code === 'ENOENT' ? 'does not exist'
      : (e.message ?? String(err)).split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 2).join(' ');
    throw new ConfigError([`cannot read configuration: ${why}`], named ?? null);
  }
  const raw = (result?.config ?? {}) as Record<string, unknown>;
  const file = result?.filepath ?? null;
  const problems = configProblems(raw);
  if (problems.length) throw Object.assign(new ConfigError(problems, file), { raw });
  const base = file ? dirname(file) : opts.cwd ?? process.cwd();
  const path = (p: string) => resolve(base, p);
  // A postgres:// URL is a store too (CONTRACT §7): kept as it is, not made a path.
  const given = opts.store ?? (raw.store as string | undefined);
  const url = given !== undefined && isPgUrl(given);
  const store = url ? given : opts.store ? resolve(opts.cwd ?? process.cwd(), opts.store) : path((raw.store as string) ?? './m4me-store.json');
  // The outbox and quarantine stay local to each host: beside the configuration, for a URL.
  const local = url ? path('m4me') : store;
  const domains = raw.mailDomain === undefined ? ['mail.4me.com'] : ([] as string[]).concat(raw.mailDomain as string | string[]);
  const aliases: Record<string, string> = Object.create(null);
  for (const [from, to] of Object.entries((raw.aliases as Record<string, string>) ?? {})) aliases[from.trim().toLowerCase()] = to.trim().toLowerCase();
  return {
    store,
    mailDomains: domains.map((d) => d.trim().toLowerCase()),
    aliases,
    trustedAuthservIds: ((raw.trustedAuthservIds as string[]) ?? []).map((s) => s.toLowerCase()),
    // With --store, the outbox and quarantine follow the store unless configured.
    outbox: raw.outbox ? path(raw.outbox as string) : `${local}.outbox`,
    quarantine: raw.quarantine ? path(raw.quarantine as string) : `${local}.quarantine`,
    sendmail: (raw.sendmail as string) ?? '/usr/sbin/sendmail -t -i',
    lockTimeoutMs: (raw.lockTimeoutMs as number) ?? 30000,
    maxMessageBytes: (raw.maxMessageBytes as number) ?? 52428800,
    acknowledgements: (raw.acknowledgements as boolean) ?? true,
    maxAutoRepliesPerDay: (raw.maxAutoRepliesPerDay as number) ?? 20,
    maxAttachments: (raw.maxAttachments as number) ?? 20,
    parameterTrust: (raw.parameterTrust as 'any' | 'dmarc') ?? 'any',
    file,
    raw,
  };
}

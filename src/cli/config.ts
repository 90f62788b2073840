import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Schema, schemaProblems } from '../store/validate.js';
import { CONFIG_SCHEMA, describeConfigProblem } from './config-schema.js';
import { nothingToFind } from './config-search.js';
import { isPgUrl, redactUrl } from '../store/pg/url.js';

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

/**
 * Every problem of a raw configuration object, each with its key and what the key expects:
 * CONFIG_SCHEMA (./config-schema.ts), the one description of the configuration, checked
 * without loading ajv (a delivery reads it every time).
 */
export function configProblems(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ['the configuration is not an object of keys'];
  const seen = new Set<string>();
  return schemaProblems(CONFIG_SCHEMA as unknown as Schema, raw).filter((p) => !seen.has(p.at) && seen.add(p.at)).map(describeConfigProblem);
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


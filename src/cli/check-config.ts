import { readdirSync, readFileSync } from 'node:fs';
import { access, constants, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import chalk from 'chalk';
import { parseJsonBytes } from '../store/big-json.js';
import { applyToData, journalPath, readWithJournal } from '../store/journal.js';
import { storeProblems } from '../store/store.js';
import { isPgUrl } from '../store/pg/url.js';
import { ConfigError, loadConfig } from './config.js';
import { EX } from './exit.js';

/** A folder m4me must be able to create files in: it, or its nearest existing parent, is writable. */
async function writableProblem(label: string, path: string): Promise<string | null> {
  let p = path;
  for (;;) {
    try {
      const st = await stat(p);
      if (!st.isDirectory()) return `${label}: ${p} is not a folder`;
      // Tried for real: access(W_OK) says yes to root for a read-only file system or /proc.
      const probe = join(p, `.m4me-check-${process.pid}`);
      try {
        await (await open(probe, 'wx')).close();
        await unlink(probe);
      } catch (e) {
        return `${label}: ${p} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      }
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') return `${label}: ${p} is not writable`;
      if (dirname(p) === p) return `${label}: no existing parent folder of ${path}`;
      p = dirname(p);
    }
  }
}

/**
 * What makes every delivery a rejection although nothing is wrong with the files: no accounts
 * (a store fresh from `m4me init`), or an alias pointing at an account the store does not have.
 */
function siteWarnings(data: { accounts: { id: string }[] }, domains: string[], aliases: Record<string, string>): string[] {
  const accounts = new Set(data.accounts.map((a) => a.id));
  const out: string[] = [];
  if (!accounts.size) {
    out.push(`the store has no accounts: every message will be rejected (fill it with m4me import accounts FILE; samples/site/ has an example)`);
    return out;
  }
  for (const [from, to] of Object.entries(aliases)) {
    const [local, domain] = [to.slice(0, to.lastIndexOf('@')), to.slice(to.lastIndexOf('@') + 1)];
    const account = local.slice(local.lastIndexOf('.') + 1);
    if (!domains.includes(domain)) out.push(`alias ${from} → ${to}: ${domain} is not a mailDomain, so mail to it is rejected`);
    else if (!accounts.has(account)) out.push(`alias ${from} → ${to}: the store has no account ${account}`);
  }
  return out;
}

export async function runCheckConfig(opts: { store?: string; config?: string }): Promise<number> {
  const problems: string[] = [];
  const say = (ok: boolean, text: string) => process.stdout.write(`${ok ? chalk.green('✓') : chalk.red('✗')} ${text}\n`);
  const warn = (text: string) => process.stdout.write(`${chalk.yellow('!')} ${text}\n`);
  let config;
  const { configSchemaProblems } = await import('./config-schema.js');
  const invalid = (file: string | null, list: string[]) => {
    for (const p of list) say(false, `${file ?? 'configuration'}: ${p}`);
    process.stderr.write(`4.3.5 m4me: invalid configuration ${file ?? ''} (${list.length} problem${list.length === 1 ? '' : 's'})\n`);
    return EX.CONFIG;
  };
  try {
    config = await loadConfig({ configFile: opts.config, store: opts.store });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Read but wrong: the JSON Schema's report (ajv), with JSON paths; unreadable: why.
    const schema = err.raw === undefined ? [] : await configSchemaProblems(err.raw);
    return invalid(err.file, schema.length ? schema : err.problems);
  }
  const schema = await configSchemaProblems(config.raw);
  if (schema.length) return invalid(config.file, schema);
  say(true, `configuration ${config.file ?? '(none found: built-in defaults)'} matches its JSON Schema`);
  const url = isPgUrl(config.store);
  if (url) await checkPgStore(config, problems, say, warn);
  else try {
    let data: unknown;
    try {
      // The store as every reader sees it: the file, and the journal serve keeps beside it.
      const read = readWithJournal(config.store, () => parseJsonBytes(readFileSync(config.store)));
      data = read.value;
      if (read.journal.state === 'current' && typeof data === 'object' && data !== null && !Array.isArray(data)) applyToData(data as Record<string, unknown>, read.journal.groups);
      if (read.journal.state === 'foreign') warn(`${journalPath(config.store)} extends another version of the store file (replaced, not by m4me): its messages are not in the store; the next delivery keeps it aside`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code) throw e;
      const { jsonErrorPlace } = await import('../store/json-error.js');
      const place = await jsonErrorPlace(config.store);
      const why = (e as Error).message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
      problems.push(`store ${config.store}: not valid JSON${place ? ` ${place}` : ''} (${why}); restore it from a backup or repair it there`);
    }
    // Journals moved aside (./store/journal.ts): messages answered 250 that the store lacks.
    const prefix = `${basename(journalPath(config.store))}.`;
    let names: string[] = [];
    try { names = readdirSync(dirname(config.store)).filter((n) => n.startsWith(prefix) && n.endsWith('.orphaned')); } catch { /* reported below */ }
    for (const n of names) warn(`${join(dirname(config.store), n)}: a journal kept aside when the store file was replaced (not by m4me): the messages in it were answered 250 and are not in the store`);
    if (data !== undefined) {
      const shape = storeProblems(data);
      if (!shape.length) {
        const { storeSchemaProblems, storeReferenceProblems } = await import('./store-schema.js');
        shape.push(...await storeSchemaProblems(data), ...storeReferenceProblems(data as never));
      }
      for (const p of shape) problems.push(`store ${config.store}: ${p}`);
      if (!shape.length) {
        say(true, `store ${config.store}`);
        for (const w of siteWarnings(data as { accounts: { id: string }[] }, config.mailDomains, config.aliases)) warn(w);
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(`store ${config.store}: ${code === 'ENOENT' ? 'does not exist (create it with m4me init)' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  // outbox --send moves each reply into sending/, then sent/: both must take this user's files.
  const folders = [['store folder', dirname(config.store)], ['outbox', config.outbox], ['outbox sending/', join(config.outbox, 'sending')], ['outbox sent/', join(config.outbox, 'sent')], ['quarantine', config.quarantine], ['attachments', `${config.store}.files`]] as const;
  // A PostgreSQL store keeps its attachments in the database: only the local folders count.
  for (const [label, path] of folders.filter(([label]) => !url || (label !== 'store folder' && label !== 'attachments'))) {
    const p = await writableProblem(label, path);
    if (p) problems.push(p); else say(true, `${label} ${path} is writable`);
  }
  // Only `outbox --send` needs it: a warning, since deliveries work without it.
  const sendmail = await sendmailProblem(config.sendmail);
  if (sendmail) process.stdout.write(`${chalk.yellow('!')} ${sendmail}\n`);
  else say(true, `sendmail command ${config.sendmail.split(/\s+/)[0]} is executable`);
  for (const p of problems) say(false, p);
  if (problems.length) {
    process.stderr.write(`4.3.5 m4me: ${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
    return EX.CONFIG;
  }
  return EX.OK;
}

/** The program of the sendmail command (`outbox --send`) exists and can be run. */
async function sendmailProblem(command: string): Promise<string | null> {
  const program = command.trim().split(/\s+/)[0] ?? '';
  const candidates = isAbsolute(program) || program.includes('/')
    ? [program]
    : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      if ((await stat(c)).isFile()) { await access(c, constants.X_OK); return null; }
    } catch { /* next */ }
  }
  return `sendmail: "${program}" is not an executable program${candidates.length > 1 ? ' on PATH' : ''} (outbox --send needs it; install an MTA or set "sendmail")`;
}

/**
 * A PostgreSQL store (CONTRACT §7): reachable, the login accepted, the schema there and of
 * this version; each problem named, with the URL's password redacted.
 */
async function checkPgStore(config: Awaited<ReturnType<typeof loadConfig>>, problems: string[],
  say: (ok: boolean, text: string) => void, warn: (text: string) => void): Promise<void> {
  const { openPool, pgFailure, withClient } = await import('../store/pg/connect.js');
  const { checkSchema, SCHEMA_VERSION } = await import('../store/pg/schema.js');
  const db = await openPool(config.store, { connectTimeoutMs: 5000 });
  try {
    await checkSchema(db);
    const accounts = await withClient(db, (c) => c.query<{ doc: { id: string } }>('SELECT doc FROM m4me_accounts ORDER BY pos'));
    say(true, `store ${db.label} (schema version ${SCHEMA_VERSION}, ${accounts.rows.length} accounts)`);
    for (const w of siteWarnings({ accounts: accounts.rows.map((r) => r.doc) }, config.mailDomains, config.aliases)) warn(w);
  } catch (err) {
    problems.push(pgFailure(err, config.store).message);
  } finally {
    await db.close();
  }
}

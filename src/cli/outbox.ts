import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import chalk from 'chalk';
import { describeIoError, TempFailure } from '../store/errors.js';
import { lock } from '../store/lock.js';
import { parseJsonBytes } from '../store/big-json.js';
import { applyToData, readWithJournal } from '../store/journal.js';
import { loadMailparser } from '../mail/mailparser.js';
import { loadConfig } from './config.js';
import { isPgUrl } from '../store/pg/url.js';
import { printable } from './terminal.js';
import { EX, UsageError } from './exit.js';
import { parseSince } from './inspect.js';

/** sending/ and sent/ get the outbox's own mode: replies a site keeps private stay so. */
const outboxMode = (outbox: string) => { try { return statSync(outbox).mode & 0o777; } catch { return 0o700; } };

function header(text: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'mi').exec(text.split(/\r?\n\r?\n/, 1)[0] ?? '');
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}

/** A header value as a person reads it: RFC 2047 encoded words decoded (by mailparser's libmime). */
function decoded(value: string): string {
  if (!value.includes('=?')) return value;
  try {
    const libmime = loadMailparser().require('libmime') as { decodeWords(s: string): string };
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** Hands one message to the sendmail command on stdin; resolves with an error text or null. */
function sendmail(command: string, message: Buffer): Promise<string | null> {
  return new Promise((resolve) => {
    const [cmd, ...args] = command.split(/\s+/).filter(Boolean);
    const child = spawn(cmd!, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => resolve(`${cmd}: ${describeIoError(e)}`));
    child.on('close', (code) => resolve(code === 0 ? null : `${cmd} exited ${code}: ${Buffer.concat(err).toString().trim().split('\n')[0] ?? ''}`));
    child.stdin.on('error', () => undefined);
    child.stdin.end(message);
  });
}

async function recordedReplies(store: string): Promise<Set<string>> {
  if (isPgUrl(store)) {
    // The replies every host recorded; this host's outbox holds only its own.
    const { openPool, withClient } = await import('../store/pg/connect.js');
    const db = await openPool(store, { max: 1 });
    try {
      const r = await withClient(db, (c) => c.query<{ id: string | null }>(`SELECT doc->>'message_id' AS id FROM m4me_auto_replies`));
      return new Set(r.rows.map((row) => row.id ?? ''));
    } finally {
      await db.close();
    }
  }
  try {
    // The replies serve recorded in the journal count too: they are in the store.
    const { value: data, journal } = readWithJournal(store, () => parseJsonBytes(readFileSync(store)) as Record<string, unknown> & { auto_replies?: { message_id?: string }[] });
    if (journal.state === 'current') applyToData(data, journal.groups);
    return new Set((data.auto_replies ?? []).map((r) => r.message_id ?? ''));
  } catch (err) {
    throw new TempFailure('4.3.5', `cannot read store ${store} to check the outbox against it: ${describeIoError(err)}`);
  }
}

export async function runOutbox(opts: { store?: string; config?: string; send: boolean; dryRun: boolean; json: boolean }): Promise<number> {
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  let files: string[];
  try {
    files = (await readdir(config.outbox)).filter((f) => f.endsWith('.eml')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TempFailure('4.3.0', `cannot read outbox ${config.outbox}: ${describeIoError(err)}`);
    files = [];
  }
  // Two sends at once (cron overlapping a manual run) would send the same mail twice.
  let unlock: (() => Promise<void>) | null = null;
  if (opts.send && !opts.dryRun && files.length) {
    try {
      unlock = lock(join(config.outbox, '.send.lock'), { stale: 600_000, update: 60_000, onCompromised: () => undefined }).release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw new TempFailure('4.3.0', `another outbox --send is running on ${config.outbox}`);
      throw new TempFailure('4.3.0', `cannot lock outbox ${config.outbox}: ${describeIoError(err)}`);
    }
  }
  try {
    return await sendAll(files, config, opts);
  } finally {
    await unlock?.().catch(() => undefined);
  }
}

async function sendAll(files: string[], config: { store: string; outbox: string; sendmail: string }, opts: { send: boolean; dryRun: boolean; json: boolean }): Promise<number> {
  // Only mail the store has recorded is sent: a reply written by a run that was killed before
  // its store write stays queued until the retry records (and rewrites) it.
  const recorded = opts.send ? await recordedReplies(config.store) : null;
  let failures = 0;
  let uncertain = 0;
  let firstError = '';
  /** Sent by this run but not moved on to sent/: reported once, with the send. */
  const justSent = new Set<string>();
  for (const f of files) {
    const path = join(config.outbox, f);
    const message = await readFile(path);
    const text = message.toString('utf8');
    const item = { file: path, to: header(text, 'To'), subject: decoded(header(text, 'Subject')), kind: header(text, 'X-M4me-Kind'), status: 'queued', error: null as string | null };
    const messageId = header(text, 'Message-ID').replace(/^<|>$/g, '');
    if (recorded && !recorded.has(messageId)) {
      item.status = 'held';
      item.error = 'not recorded in the store (yet): the delivery that wrote it did not finish; it is sent once a retry records it';
    } else if (opts.send && !opts.dryRun) {
      // At most once: the reply leaves the queue (into sending/) before sendmail has it, so a
      // send whose outcome could not be recorded is never handed over again by a later run.
      const sending = join(config.outbox, 'sending', f);
      try {
        await mkdir(join(config.outbox, 'sending'), { recursive: true, mode: outboxMode(config.outbox) });
        await rename(path, sending);
      } catch (err) {
        item.error = `not sent: cannot move it to ${join(config.outbox, 'sending')} first: ${describeIoError(err)}`;
      }
      if (!item.error) item.error = await sendmail(config.sendmail, message);
      if (item.error && existsSync(sending)) {
        // Not handed over: back into the queue, for the next run.
        await rename(sending, path).catch(() => undefined);
      }
      if (item.error) {
        failures++;
        firstError ||= item.error;
        item.status = 'failed';
        await writeFile(`${path}.error`, `${item.error}\n`).catch(() => undefined);
      } else {
        item.status = 'sent';
        await unlink(`${path}.error`).catch(() => undefined);
        try {
          await mkdir(join(config.outbox, 'sent'), { recursive: true, mode: outboxMode(config.outbox) });
          await rename(sending, join(config.outbox, 'sent', f));
        } catch (err) {
          justSent.add(f);
          uncertain++;
          item.error = `sent, but cannot be moved to ${join(config.outbox, 'sent')}: ${describeIoError(err)}; it stays in sending/ and is not sent again`;
        }
      }
    } else if (opts.send) {
      item.status = 'would send';
    }
    if (!opts.send || opts.dryRun) {
      // The last --send that failed for it said why.
      const error = await readFile(`${path}.error`, 'utf8').catch(() => null);
      if (error !== null && item.status !== 'held') { item.status = opts.send ? item.status : 'failed'; item.error = error.trim(); }
    }
    process.stdout.write(opts.json ? `${JSON.stringify(item)}\n`
      : `${item.status === 'failed' ? chalk.red(item.status) : item.status === 'sent' ? chalk.green(item.status) : chalk.dim(item.status)}  ${printable(`${item.kind.padEnd(16)} ${item.to}  ${item.subject}`)}${item.error ? chalk.red(printable(`  (${item.error})`)) : ''}\n`);
  }
  // Handed over, or about to be, by a run that could not record how it ended: never sent again.
  for (const f of await readdir(join(config.outbox, 'sending')).catch(() => [] as string[])) {
    if (!f.endsWith('.eml')) continue;
    const path = join(config.outbox, 'sending', f);
    const text = await readFile(path, 'utf8').catch(() => '');
    if (justSent.has(f)) continue;
    uncertain++;
    const item = { file: path, to: header(text, 'To'), subject: decoded(header(text, 'Subject')), kind: header(text, 'X-M4me-Kind'), status: 'uncertain',
      error: 'an earlier --send handed it over or was about to, and could not record which: it is not sent again (move it back into the outbox to send it)' };
    process.stdout.write(opts.json ? `${JSON.stringify(item)}\n` : `${chalk.yellow(item.status)}  ${printable(`${item.kind.padEnd(16)} ${item.to}  ${item.subject}`)}${chalk.yellow(`  (${item.error})`)}\n`);
  }
  if (!opts.json) process.stdout.write(chalk.dim(`${files.length} message${files.length === 1 ? '' : 's'} in ${config.outbox}${failures ? `, ${failures} failed` : ''}${uncertain ? `, ${uncertain} in sending/ (not sent again)` : ''}\n`));
  if (uncertain && opts.send) process.stderr.write(`4.4.0 m4me: ${uncertain} message${uncertain === 1 ? '' : 's'} in ${join(config.outbox, 'sending')} may have been sent: not sent again\n`);
  if (uncertain && opts.send && !opts.dryRun && !failures) return EX.TEMPFAIL;
  if (failures) {
    process.stderr.write(`4.4.0 m4me: ${failures} of ${files.length} message${files.length === 1 ? '' : 's'} not sent (${firstError}); they stay queued\n`);
    return EX.TEMPFAIL;
  }
  return EX.OK;
}

/**
 * `m4me outbox purge`: replies a replay queued that nobody should get (`--before D`: queued
 * and sent copies dated before D), and replies the store never recorded (`--orphans`: written
 * by a run that was killed before its commit; they are never sent). Under the send lock, so
 * never while an `outbox --send` runs.
 */
export async function runOutboxPurge(opts: { store?: string; config?: string; before?: string; orphans: boolean; dryRun: boolean }): Promise<number> {
  if (!opts.before && !opts.orphans) throw new UsageError('say what to purge: --before DATE, --orphans, or both');
  const before = opts.before === undefined ? null : parseSince(opts.before);
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const recorded = opts.orphans ? await recordedReplies(config.store) : null;
  let unlock: (() => Promise<void>) | null = null;
  try {
    unlock = lock(join(config.outbox, '.send.lock'), { stale: 600_000, update: 60_000, onCompromised: () => undefined }).release;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') throw new TempFailure('4.3.0', `an outbox --send is running on ${config.outbox}`);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TempFailure('4.3.0', `cannot lock outbox ${config.outbox}: ${describeIoError(err)}`);
  }
  try {
    let purged = 0;
    for (const folder of [config.outbox, join(config.outbox, 'sent')]) {
      const names = (await readdir(folder).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
      for (const f of names) {
        const path = join(folder, f);
        const text = await readFile(path, 'utf8').catch(() => '');
        const date = Date.parse(header(text, 'Date'));
        const id = header(text, 'Message-ID').replace(/^<|>$/g, '');
        const why = before !== null && date < before ? `dated ${header(text, 'Date')}`
          : recorded && folder === config.outbox && !recorded.has(id) ? 'not recorded in the store' : null;
        if (!why) continue;
        purged++;
        process.stdout.write(`${opts.dryRun ? 'would purge' : 'purged'}  ${printable(`${folder === config.outbox ? 'queued' : 'sent'}  ${header(text, 'To')}  ${decoded(header(text, 'Subject'))}  (${why})`)}\n`);
        if (!opts.dryRun) {
          await unlink(path);
          await unlink(`${path}.error`).catch(() => undefined);
        }
      }
    }
    process.stderr.write(`${purged} message${purged === 1 ? '' : 's'} ${opts.dryRun ? 'would be purged (dry run: nothing was changed)' : 'purged'}\n`);
    return EX.OK;
  } finally {
    await unlock?.().catch(() => undefined);
  }
}

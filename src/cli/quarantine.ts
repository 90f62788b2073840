/**
 * `m4me quarantine list` and `m4me quarantine retry [NAME…|--all]`: the messages that could
 * not be read as email (or were too large), kept whole in the quarantine folder with what the
 * delivery knew of them (`<name>.json`: the envelope, the status, the reason). A retry runs a
 * message through `m4me process` again with its own envelope, as the mail system delivered it:
 * what is read this time leaves the quarantine; what still cannot be read stays, unchanged.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadConfig } from './config.js';
import { EX, UsageError } from './exit.js';
import { type QuarantineMeta, quarantineMetaPath } from './process.js';
import type { Result } from './result.js';
import { printable } from './terminal.js';

interface Entry { name: string; path: string; bytes: number; meta: QuarantineMeta | null }

function entries(folder: string): Entry[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => n.endsWith('.eml')).sort().map((name) => {
    const path = join(folder, name);
    let meta: QuarantineMeta | null = null;
    try { meta = JSON.parse(readFileSync(quarantineMetaPath(path), 'utf8')) as QuarantineMeta; } catch { /* quarantined before m4me kept it */ }
    return { name, path, bytes: statSync(path).size, meta };
  });
}

export async function runQuarantineList(opts: { store?: string; config?: string; json: boolean }): Promise<number> {
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const list = entries(config.quarantine);
  for (const e of list) {
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ name: e.name, path: e.path, bytes: e.bytes, ...(e.meta ?? {}) })}\n`);
    } else {
      const m = e.meta;
      process.stdout.write(`${e.name}  ${e.bytes} bytes${m ? `  ${m.quarantined_at}  to ${m.recipients.join(', ') || '(no envelope recipient)'}` : ''}\n` +
        `  ${printable(m ? `${m.status} ${m.reason}` : '(no record of why: quarantined by an older m4me)')}\n`);
    }
  }
  if (!opts.json) process.stderr.write(`${list.length} message${list.length === 1 ? '' : 's'} in quarantine ${config.quarantine}\n`);
  return EX.OK;
}

/** Runs `m4me process` on one quarantined message, with its envelope; resolves with its result line and exit code. */
function processAgain(e: Entry, opts: { store?: string; config?: string; dryRun: boolean }): Promise<{ code: number; result: Result | null; stderr: string }> {
  const args = [process.argv[1]!, 'process', '--json', '--from-quarantine', e.path];
  if (opts.config) args.push('--config', opts.config);
  if (opts.store) args.push('--store', opts.store);
  if (opts.dryRun) args.push('--dry-run');
  for (const r of e.meta?.recipients ?? []) args.push('--recipient', r);
  if (e.meta?.sender !== null && e.meta?.sender !== undefined) args.push('--sender', e.meta.sender);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      resolve({ code: code ?? EX.TEMPFAIL, result: line ? JSON.parse(line) as Result : null, stderr: err.trim() });
    });
  });
}

export async function runQuarantineRetry(names: string[], opts: { store?: string; config?: string; all: boolean; dryRun: boolean }): Promise<number> {
  const config = await loadConfig({ configFile: opts.config, store: opts.store });
  const list = entries(config.quarantine);
  if (!opts.all && !names.length) throw new UsageError('name the messages to retry (as quarantine list shows them), or --all');
  const chosen = opts.all ? list : names.map((n) => {
    const found = list.find((e) => e.name === basename(n) || e.name === `${basename(n)}.eml`);
    if (!found) throw new UsageError(`no message ${JSON.stringify(n)} in quarantine ${config.quarantine}`);
    return found;
  });
  let still = 0;
  let deferred = 0;
  for (const e of chosen) {
    const { code, result, stderr } = await processAgain(e, opts);
    if (code === EX.TEMPFAIL || code === EX.CONFIG) {
      deferred++;
      process.stdout.write(`${e.name}: not retried: ${printable(stderr || `exit ${code}`)}\n`);
      continue;
    }
    if (!result || result.outcome === 'failed') {
      still++;
      process.stdout.write(`${e.name}: still unreadable: ${printable(result?.error ? `${result.error.status} ${result.error.message}` : stderr)}\n`);
      continue;
    }
    const record = result.record ? ` ${result.record.type} #${result.record.id}` : '';
    if (!opts.dryRun) {
      // Processed and committed (the child exited 0): the quarantined copy has done its work.
      unlinkSync(e.path);
      try { unlinkSync(quarantineMetaPath(e.path)); } catch { /* none kept */ }
    }
    process.stdout.write(`${e.name}: ${opts.dryRun ? 'would be ' : ''}${result.outcome}${record} [${result.rule}]${opts.dryRun ? '' : ', removed from quarantine'}\n`);
  }
  if (opts.dryRun) process.stderr.write('dry run: nothing was changed\n');
  return deferred ? EX.TEMPFAIL : still ? EX.DATAERR : EX.OK;
}

// What bench/pg.mjs and bench/serve.mjs share: a node process timed from spawn to exit.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs `node ARGS` in the project folder (stdin: `opts.stdin`); resolves with its wall time in ms, rejects on a non-zero exit. */
export function timedRun(args, opts = {}) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: [opts.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    if (opts.stdin) child.stdin.end(opts.stdin);
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res(performance.now() - t0) : rej(new Error(`${args.slice(0, 3).join(' ')}: exit ${code}: ${err.trim().slice(0, 300)}`))));
  });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

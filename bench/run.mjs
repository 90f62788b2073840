#!/usr/bin/env node
// m4me benchmark: batch replay against bare mailparser, memory, flat cost, pipe latency,
// store load at scale. Every figure is a ratio against a baseline measured in this run.
//
//   npm run bench                 full run (10k and 50k messages)
//   npm run bench -- --quick      smaller sizes, for a smoke check
//
// Exits 1 when a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const GEN = resolve(ROOT, '..', 'shared', 'bench', 'gen-workload.mjs');
const OUT = join(ROOT, 'bench', 'out');
const QUICK = process.argv.includes('--quick');
const BIG = QUICK ? 10000 : 50000;
const BASE = QUICK ? 2000 : 10000;
const SMALL = 1000;
const NOW = '2026-03-05T00:00:00+00:00';

if (!existsSync(GEN)) {
  console.error(`bench: ${GEN} not found (../shared must be beside the project)`);
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('bench: dist/ missing, run npm run build first');
  process.exit(2);
}

function workload(n, extra = []) {
  const dir = join(OUT, `wl-${n}${extra.length ? `-${extra.join('')}` : ''}`);
  if (!existsSync(join(dir, 'workload.mbox'))) {
    const r = spawnSync(process.execPath, [GEN, '--messages', String(n), '--seed', '7', '--out', dir, ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`gen-workload failed for ${n}`);
  }
  return dir;
}

function run(args, opts = {}) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: [opts.stdin ? 'pipe' : 'ignore', opts.stdout ?? 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    if (opts.stdin) child.stdin.end(opts.stdin);
    child.on('error', rej);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const rss = Number(/M4ME_BENCH maxrss_kb=(\d+)/.exec(err)?.[1] ?? 0) / 1024;
      if (code !== 0 && !opts.allowFail) return rej(new Error(`exit ${code}: ${err.trim().slice(0, 300)}`));
      res({ ms, rss, code });
    });
  });
}

/** Bare mailparser on the same messages: the baseline the replay is held to. */
async function baseline(mbox) {
  const r = await run(['--import', './bench/rss.mjs', './bench/baseline.mjs', mbox]);
  return r;
}

async function replay(dir) {
  const store = join(dir, 'run-store.json');
  copyFileSync(join(dir, 'store.json'), store);
  for (const s of ['.outbox', '.files', '.quarantine', '.lock']) rmSync(store + s, { recursive: true, force: true });
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(join(dir, 'results.jsonl'), 'w');
  try {
    return await run(['--import', './bench/rss.mjs', 'bin/m4me.js', 'process', '--json', '--quiet', '--clock', 'message',
      '--store', store, join(dir, 'workload.mbox')], { stdout: fd });
  } finally { closeSync(fd); }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function pipeLatency(dir) {
  const store = join(dir, 'pipe-store.json');
  copyFileSync(join(dir, 'store.json'), store);
  const msg = 'From: user1001@widget.example\nTo: widget-it@mail.4me.com\nSubject: pipe latency\nDate: Thu, 05 Mar 2026 00:00:00 +0000\n\nHello\n';
  const bare = [];
  const m4me = [];
  for (let i = 0; i < 15; i++) {
    bare.push((await run(['-e', '0'])).ms);
    const one = msg.replace('Subject:', `Message-ID: <pipe-${i}-${Date.now()}@bench>\nSubject:`);
    m4me.push((await run(['bin/m4me.js', 'process', '--quiet', '--now', NOW, '--store', store], { stdin: one })).ms);
  }
  return { bare: median(bare), m4me: median(m4me) };
}

async function storeLoad(requests) {
  const dir = workload(10, ['--requests', String(requests)]);
  const r = await run(['./bench/load-store.mjs', join(dir, 'store.json')], { stdout: 'pipe' });
  return r.ms;
}

mkdirSync(OUT, { recursive: true });
const rows = [];
const misses = [];
const check = (ok, what) => { if (!ok) misses.push(what); return ok ? 'ok' : 'MISSED'; };

console.log(`generating workloads (${SMALL}, ${BASE}, ${BIG} messages)…`);
const dSmall = workload(SMALL);
const dBase = workload(BASE);
const dBig = workload(BIG);

for (const [n, dir] of [[SMALL, dSmall], [BASE, dBase], [BIG, dBig]]) {
  const mbox = join(dir, 'workload.mbox');
  const b = await baseline(mbox);
  const m = await replay(dir);
  const lines = readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  if (lines !== n) misses.push(`${n}: ${lines} result lines, expected ${n}`);
  rows.push({ n, m4me: n / (m.ms / 1000), base: n / (b.ms / 1000), ratio: m.ms / b.ms, rss: m.rss, msPer: m.ms / n });
}
const byN = Object.fromEntries(rows.map((r) => [r.n, r]));
const lat = await pipeLatency(dBase);
const loads = [];
for (const size of QUICK ? [10000, 100000] : [10000, 100000, 500000]) loads.push([size, await storeLoad(size)]);

console.log('\n| messages | m4me msg/s | mailparser msg/s | ratio | peak RSS MB |');
console.log('|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.n} | ${r.m4me.toFixed(0)} | ${r.base.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.rss.toFixed(0)} |`);
console.log('\ntargets:');
console.log(`  replay ${BASE} ≤ 1.25× mailparser: ${byN[BASE].ratio.toFixed(2)}× ${check(byN[BASE].ratio <= 1.25, 'replay ratio')}`);
console.log(`  peak RSS ${BASE} ≤ 400 MB: ${byN[BASE].rss.toFixed(0)} MB ${check(byN[BASE].rss <= 400, 'peak RSS')}`);
console.log(`  peak RSS ${BIG} ≤ 1.2× ${BASE}: ${(byN[BIG].rss / byN[BASE].rss).toFixed(2)}× ${check(byN[BIG].rss <= 1.2 * byN[BASE].rss, 'RSS growth')}`);
console.log(`  ms/message ${BIG} ≤ 1.3× ${SMALL}: ${(byN[BIG].msPer / byN[SMALL].msPer).toFixed(2)}× ${check(byN[BIG].msPer <= 1.3 * byN[SMALL].msPer, 'flat cost')}`);
console.log(`  pipe latency median ${lat.m4me.toFixed(0)} ms vs node -e 0 ${lat.bare.toFixed(0)} ms = ${(lat.m4me / lat.bare).toFixed(2)}× (≤ 3×, < 250 ms) ${check(lat.m4me <= 3 * lat.bare && lat.m4me < 250, 'pipe latency')}`);
console.log('\nstore load (process start + parse + index):');
for (const [size, ms] of loads) console.log(`  ${String(size).padStart(6)} requests: ${ms.toFixed(0)} ms`);
if (misses.length) {
  console.log(`\nMISSED: ${misses.join('; ')}`);
  process.exit(1);
}
console.log('\nall targets met');

#!/usr/bin/env node
// The PostgreSQL store, side by side with the JSON store in one run (issue 14's targets):
//   - pipe delivery into PostgreSQL against one into the JSON store, both of 10,000 requests;
//   - flat cost: pipe delivery into PostgreSQL of 1,000,000 requests (100,000 when run alone
//     without --full, or by npm run bench -- --quick) against 10,000;
//   - replay of the 2,000-message workload into PostgreSQL against bare mailparser.
// A private cluster (initdb in a temp folder, unix socket only, run as the postgres user when
// this runs as root) with its durability settings as shipped: fsync on, synchronous_commit on.
//
//   node bench/pg.mjs [--full]        (npm run bench runs it too when PostgreSQL is installed)
//
// The targets are checked by npm run bench (its exit code); alone, this prints them.
//
// Prints its table; exits 2 when PostgreSQL cannot be had.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, ROOT, timedRun } from './timed.mjs';
import { performance } from 'node:perf_hooks';

const OUT = join(ROOT, 'bench', 'out');
const FULL = process.argv.includes("--full") || (process.argv[1]?.endsWith("run.mjs") && !process.argv.includes("--quick"));
const PIPE_RUNS = 11;
const NOW = '2026-03-05T00:00:00+00:00';
const asRoot = process.getuid?.() === 0;

export function pgBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const v = readdirSync(base).filter((x) => existsSync(join(base, x, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(base, v, 'bin') : null;
}

function asPostgres(cmd, args) {
  const [c, a] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a, { encoding: 'utf8', cwd: '/', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function startCluster(bin) {
  const dir = mkdtempSync('/tmp/m4me-bench-pg-');
  if (asRoot) {
    const f = spawnSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).stdout.split(':');
    chownSync(dir, Number(f[2]), Number(f[3]));
  }
  chmodSync(dir, 0o700);
  asPostgres(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
  asPostgres(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses=''`, 'start']);
  const url = (db) => `postgresql://postgres@/${db}?host=${encodeURIComponent(dir)}`;
  const createDb = (db) => { asPostgres(join(bin, 'psql'), ['-X', '-q', '-h', dir, '-U', 'postgres', '-c', `CREATE DATABASE ${db}`]); return url(db); };
  const stop = () => { try { asPostgres(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); };
  return { createDb, stop };
}


const message = (i, tag) => [
  'From: user1002@widget.example', 'To: widget-it@mail.4me.com', `Subject: pipe latency ${tag} ${i}`,
  `Message-ID: <pipe-${tag}-${i}-${process.pid}@bench.invalid>`, 'Date: Thu, 05 Mar 2026 00:00:00 +0000', '', 'The printer on floor 3 is jammed again.', '',
].join('\n');

/** Median pipe delivery into each store, the stores taking turns. */
async function pipeMedians(stores, config) {
  const times = Object.fromEntries(Object.keys(stores).map((k) => [k, []]));
  const deliver = (k, i) => timedRun(['bin/m4me.js', 'process', '--quiet', '--now', NOW, '--config', config, '--store', stores[k]], { stdin: message(i, k) });
  for (const k of Object.keys(stores)) await deliver(k, 0); // the first writes the file's index / warms the cache
  for (let i = 1; i <= PIPE_RUNS; i++) for (const k of Object.keys(stores)) times[k].push(await deliver(k, i));
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)]));
}

export async function pgBench() {
  const bin = pgBin();
  if (!bin) return { skipped: 'PostgreSQL is not installed (test/pg/setup.sh installs it)' };
  const sizes = [10000, FULL ? 1000000 : 100000];
  for (const n of sizes) {
    const path = join(OUT, `store-${n}.json`);
    if (!existsSync(path)) await timedRun(['./bench/synth-store.mjs', join(OUT, 'wl-500', 'store.json'), String(n), path]);
  }
  const cluster = startCluster(bin);
  const work = mkdtempSync(join(OUT, 'pg-'));
  try {
    const config = join(work, 'm4me.json');
    writeFileSync(config, JSON.stringify({ mailDomain: 'mail.4me.com' }));
    const urls = {};
    const loadMs = {};
    for (const n of sizes) {
      urls[n] = cluster.createDb(`m4me_${n}`);
      const t = performance.now();
      await timedRun(['bin/m4me.js', 'copy-store', join(OUT, `store-${n}.json`), urls[n], '--quiet']);
      loadMs[n] = performance.now() - t;
    }
    const json = join(work, 'store-10000.json');
    copyFileSync(join(OUT, 'store-10000.json'), json);
    const pipe = await pipeMedians({ json, pg10k: urls[sizes[0]], pgBig: urls[sizes[1]] }, config);
    // Replay of the 2,000-message workload into a PostgreSQL copy of its store, beside bare mailparser.
    const wl = join(OUT, 'wl-2000');
    let replay = null;
    if (existsSync(join(wl, 'workload.mbox'))) {
      const url = cluster.createDb('m4me_replay');
      await timedRun(['bin/m4me.js', 'copy-store', join(wl, 'store.json'), url, '--quiet']);
      const base = await timedRun(['./bench/baseline.mjs', join(wl, 'workload.mbox')]);
      const m = await timedRun(['bin/m4me.js', 'process', '--json', '--quiet', '--now', NOW, '--config', config, '--store', url, join(wl, 'workload.mbox')]);
      replay = { baseMs: base, pgMs: m, ratio: m / base };
    }
    return { sizes, loadMs, pipe, replay };
  } finally {
    cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function printPg(r) {
  if (r.skipped) { console.log(`\nPostgreSQL: skipped (${r.skipped})`); return; }
  const [small, big] = r.sizes;
  const t = (x) => x.toFixed(2);
  console.log(`\nPostgreSQL store (private cluster, fsync on), median of ${PIPE_RUNS} pipe deliveries taking turns:`);
  console.log(`  JSON store ${small}: ${r.pipe.json.toFixed(0)} ms; PostgreSQL ${small}: ${r.pipe.pg10k.toFixed(0)} ms; PostgreSQL ${big}: ${r.pipe.pgBig.toFixed(0)} ms`);
  console.log(`  PostgreSQL vs JSON at ${small}: ${t(r.pipe.pg10k / r.pipe.json)}× (target ≤ 1.3×)`);
  console.log(`  flat cost, PostgreSQL ${big} vs ${small}: ${t(r.pipe.pgBig / r.pipe.pg10k)}× (target ≤ 1.2× at 1,000,000)`);
  console.log(`  copy-store load: ${Object.entries(r.loadMs).map(([n, ms]) => `${n} requests ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
  if (r.replay) console.log(`  replay of 2,000 messages: ${(r.replay.pgMs / 1000).toFixed(1)} s vs bare mailparser ${(r.replay.baseMs / 1000).toFixed(1)} s = ${t(r.replay.ratio)}× (target ≤ 1.5×)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!existsSync(join(OUT, 'wl-500', 'store.json'))) {
    console.error('bench/pg.mjs: run npm run bench once first (it generates bench/out/wl-*)');
    process.exit(2);
  }
  mkdirSync(OUT, { recursive: true });
  const r = await pgBench();
  printPg(r);
  writeFileSync(join(OUT, 'pg-results.json'), `${JSON.stringify(r, null, 2)}\n`);
  if (r.skipped) process.exit(2);
}

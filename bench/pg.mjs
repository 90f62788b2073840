#!/usr/bin/env node
// The PostgreSQL store, side by side with the JSON store in one run (issue 14's targets):
//   - pipe delivery into PostgreSQL against one into the JSON store, both of 10,000 requests;
//   - flat cost: pipe delivery into PostgreSQL of 1,000,000 requests (100,000 when run alone
//     without --full, or by npm run bench -- --quick) against 10,000;
//   - replay of the 10,000-message workload (2,000 without --full) into PostgreSQL against
//     bare mailparser;
//   - throughput of parallel pipe deliveries into the 10,000-request database: one "host"
//     (a configuration folder of its own, so its own outbox) running 8 at a time, against two
//     hosts running 8 each (16 at once), taking turns; with the CPU they used (reported, no
//     target: on a 2-vCPU machine 16 node processes are bounded by CPU).
// A private cluster (initdb in a temp folder, unix socket only, run as the postgres user when
// this runs as root) with its durability settings as shipped: fsync on, synchronous_commit on.
// The 10,000-request store is loaded with copy-store; the big one with bench/pg-load.mjs
// (COPY: copy-store cannot read a 1.4 GB file, and is slow at 100,000), which gives the same
// tables (--check-load compares the two at 10,000). Each database is vacuumed and analyzed
// after its load, so autovacuum does not wake up in the middle of a measurement.
//
//   node bench/pg.mjs [--full]        (npm run bench runs it too when PostgreSQL is installed)
//   node bench/pg.mjs --check-load    bulk load vs copy-store of 10,000 requests, table by table
//
// The targets are checked by npm run bench (its exit code); alone, this prints them.
//
// Prints its table; exits 2 when PostgreSQL cannot be had.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, ROOT, timedRun } from './timed.mjs';
import { bulkLoad } from './pg-load.mjs';
import { performance } from 'node:perf_hooks';

const OUT = join(ROOT, 'bench', 'out');
const FULL = process.argv.includes("--full") || (process.argv[1]?.endsWith("run.mjs") && !process.argv.includes("--quick"));
const PIPE_RUNS = 11;
/** Throughput: messages per round (split between the hosts), rounds of (1 host, 2 hosts) taking turns. */
const TP_MESSAGES = FULL ? 64 : 32;
const TP_ROUNDS = 3;
const TP_PARALLEL = 8;
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
  const sql = (u, q) => asPostgres(join(bin, 'psql'), ['-X', '-q', '-At', '-c', q, u]).trim();
  const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { createDb, stop, sql, postmaster };
}

// ---- CPU and memory, from /proc (Linux) ----

const CPUS = (await import('node:os')).availableParallelism();
const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);
/** [ppid, utime+stime, cutime+cstime] of a process, in ms; null when it is gone. */
function procTimes(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return [Number(f[1]), (Number(f[11]) + Number(f[12])) * TICK_MS, (Number(f[13]) + Number(f[14])) * TICK_MS];
  } catch { return null; }
}
const procChildren = (ppid) => readdirSync('/proc').filter((d) => /^\d+$/.test(d) && procTimes(d)?.[0] === ppid).map(Number);
/** CPU ms so far of the cluster: the postmaster, its live children, and the backends it reaped. */
function clusterCpu(postmaster) {
  const [, own, reaped] = procTimes(postmaster) ?? [0, 0, 0];
  return own + reaped + procChildren(postmaster).reduce((a, p) => a + (procTimes(p)?.[1] ?? 0), 0);
}
/** CPU ms so far of this process's reaped children (the m4me processes it ran). */
const childCpu = () => procTimes(process.pid)[2];
/** The whole machine: [busy, total] ms of all CPUs (others' work included). */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return [(total - f[3] - f[4]) * TICK_MS, total * TICK_MS];
}
/** Peak memory of the cluster while `fn` runs: sum of PSS of its processes, largest RSS of a backend (MB). */
async function clusterMemory(postmaster, fn) {
  const kb = (pid, key) => {
    try { return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0); } catch { return 0; }
  };
  const peak = { pssMB: 0, backendRssMB: 0 };
  const sample = () => {
    const kids = procChildren(postmaster);
    peak.pssMB = Math.max(peak.pssMB, [postmaster, ...kids].reduce((a, p) => a + kb(p, 'Pss'), 0) / 1024);
    for (const p of kids) {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('postgres: postgres ')) peak.backendRssMB = Math.max(peak.backendRssMB, kb(p, 'Rss') / 1024);
    }
  };
  const timer = setInterval(() => { try { sample(); } catch { /* a process left while read */ } }, 250);
  try { return { result: await fn(), memory: peak }; } finally { clearInterval(timer); }
}

const message = (i, tag, from = 'user1002@widget.example') => [
  `From: ${from}`, 'To: widget-it@mail.4me.com', `Subject: pipe latency ${tag} ${i}`,
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

let sender = 10; // the senders of the throughput messages: user1011@, user1012@, …
/**
 * Pipe deliveries into one database from `hosts` configuration folders (each its own outbox,
 * as two hosts sharing the database have), TP_PARALLEL at a time per host, `total` messages
 * split between the hosts. Messages/s over the wall time, and the CPU it took: the m4me
 * processes (user+sys, from this process's reaped children), the cluster, the whole machine.
 */
async function throughput(hostDirs, total, tag, cluster, parallel = TP_PARALLEL) {
  const per = total / hostDirs.length;
  const t0 = performance.now();
  const [c0, p0, m0] = [childCpu(), clusterCpu(cluster.postmaster), machineCpu()];
  await Promise.all(hostDirs.map(async (dir, h) => {
    let next = 0;
    const worker = async () => {
      while (next < per) {
        const i = next++;
        // Each from another person of the store, as mail from many users is: each gets its
        // acknowledgement (a reply file written and synced), none hits the daily reply cap.
        const from = `user${1001 + (sender++ % 2000)}@widget.example`;
        await timedRun(['bin/m4me.js', 'process', '--quiet', '--now', NOW, '--config', join(dir, 'm4me.json')], { stdin: message(i, `${tag}-h${h}`, from) });
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }));
  const ms = performance.now() - t0;
  const [c1, p1, m1] = [childCpu(), clusterCpu(cluster.postmaster), machineCpu()];
  return {
    hosts: hostDirs.length, parallel, messages: total, ms, perS: total / (ms / 1000),
    m4meCpuMs: c1 - c0, pgCpuMs: p1 - p0, machineBusy: (m1[0] - m0[0]) / (m1[1] - m0[1]),
    // CPUs' worth this run's processes used (of CPUS).
    ownCpus: (c1 - c0 + p1 - p0) / ms,
  };
}

async function throughputBench(url, work, cluster) {
  const dirs = ['host-a', 'host-b'].map((h) => {
    const dir = join(work, h);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'm4me.json'), JSON.stringify({ mailDomain: 'mail.4me.com', store: url }));
    return dir;
  });
  const count = () => Number(cluster.sql(url, 'SELECT count(*) FROM m4me_inbound'));
  const before = count();
  // CPU of a bare node start, for what the deliveries' CPU is made of.
  const c0 = childCpu();
  for (let i = 0; i < 5; i++) await timedRun(['-e', '0']);
  const nodeStartCpuMs = (childCpu() - c0) / 5;
  // One at a time, for the CPU a delivery takes when it has a CPU to itself.
  const serial = await throughput(dirs.slice(0, 1), 8, 'tp-serial', cluster, 1);
  const one = [];
  const two = [];
  for (let r = 0; r < TP_ROUNDS; r++) {
    one.push(await throughput(dirs.slice(0, 1), TP_MESSAGES, `tp${r}-1`, cluster));
    two.push(await throughput(dirs, TP_MESSAGES, `tp${r}-2`, cluster));
  }
  const applied = count() - before;
  const outboxes = dirs.map((d) => { try { return readdirSync(join(d, 'm4me.outbox')).filter((f) => f.endsWith('.eml')).length; } catch { return 0; } });
  const mid = (rs) => {
    const m = median(rs.map((x) => x.perS));
    const r = rs.find((x) => x.perS === m);
    return { ...r, rounds: rs.map((x) => Number(x.perS.toFixed(2))) };
  };
  return { parallel: TP_PARALLEL, cpus: CPUS, serial, one: mid(one), two: mid(two), applied, expected: 8 + 2 * TP_ROUNDS * TP_MESSAGES, outboxes, nodeStartCpuMs };
}

export async function checkLoad() {
  const bin = pgBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const n = 10000;
  const path = join(OUT, `store-${n}.json`);
  if (!existsSync(path)) await timedRun(['./bench/synth-store.mjs', join(OUT, 'wl-500', 'store.json'), String(n), path]);
  const cluster = startCluster(bin);
  try {
    const a = cluster.createDb('m4me_copy');
    const b = cluster.createDb('m4me_bulk');
    await timedRun(['bin/m4me.js', 'copy-store', path, a, '--quiet']);
    await bulkLoad({ source: join(OUT, 'wl-500', 'store.json'), requests: n, url: b, psql: join(bin, 'psql') });
    // Every row of every table, sorted (the physical order differs), and the schema; not
    // m4me_schema's applied_at, nor pg_dump's random \restrict key.
    const dump = (u, args) => {
      const r = spawnSync(join(bin, 'pg_dump'), [...args, '--exclude-table-data=m4me_schema', '-d', u], { encoding: 'utf8', maxBuffer: 1 << 30 });
      if (r.status !== 0) throw new Error(`pg_dump: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l));
    };
    const same = (x, y) => x.length === y.length && x.every((l, i) => l === y[i]);
    const data = same(dump(a, ['--data-only']).sort(), dump(b, ['--data-only']).sort());
    const schema = same(dump(a, ['--schema-only']), dump(b, ['--schema-only']));
    console.log(`bulk load vs copy-store of ${n} requests: rows ${data ? 'the same' : 'DIFFER'}, schema ${schema ? 'the same' : 'DIFFERS'}`);
    return data && schema;
  } finally { cluster.stop(); }
}

export async function pgBench() {
  const bin = pgBin();
  if (!bin) return { skipped: 'PostgreSQL is not installed (test/pg/setup.sh installs it)' };
  const sizes = [10000, FULL ? 1000000 : 100000];
  const small = join(OUT, `store-${sizes[0]}.json`);
  if (!existsSync(small)) await timedRun(['./bench/synth-store.mjs', join(OUT, 'wl-500', 'store.json'), String(sizes[0]), small]);
  const cluster = startCluster(bin);
  const work = mkdtempSync(join(OUT, 'pg-'));
  try {
    const config = join(work, 'm4me.json');
    writeFileSync(config, JSON.stringify({ mailDomain: 'mail.4me.com' }));
    const urls = {};
    const load = {};
    for (const [i, n] of sizes.entries()) {
      urls[n] = cluster.createDb(`m4me_${n}`);
      let t = performance.now();
      if (i === 0) await timedRun(['bin/m4me.js', 'copy-store', small, urls[n], '--quiet']);
      else await bulkLoad({ source: join(OUT, 'wl-500', 'store.json'), requests: n, url: urls[n], psql: join(bin, 'psql') });
      const ms = performance.now() - t;
      t = performance.now();
      cluster.sql(urls[n], 'VACUUM (ANALYZE)');
      load[n] = { how: i === 0 ? 'copy-store' : 'COPY', ms, vacuumMs: performance.now() - t, dbMB: Number(cluster.sql(urls[n], 'SELECT pg_database_size(current_database())')) / 2 ** 20 };
    }
    const json = join(work, 'store-10000.json');
    copyFileSync(small, json);
    const { result: pipe, memory } = await clusterMemory(cluster.postmaster, () => pipeMedians({ json, pg10k: urls[sizes[0]], pgBig: urls[sizes[1]] }, config));
    // Replay of the workload (the issue's 10,000 messages in a full run, as npm run bench makes
    // it; 2,000 otherwise) into a PostgreSQL copy of its store, beside bare mailparser.
    const wl = join(OUT, FULL && existsSync(join(OUT, 'wl-10000', 'workload.mbox')) ? 'wl-10000' : 'wl-2000');
    let replay = null;
    if (existsSync(join(wl, 'workload.mbox'))) {
      const url = cluster.createDb('m4me_replay');
      await timedRun(['bin/m4me.js', 'copy-store', join(wl, 'store.json'), url, '--quiet']);
      cluster.sql(url, 'VACUUM (ANALYZE)');
      const base = await timedRun(['./bench/baseline.mjs', join(wl, 'workload.mbox')]);
      const m = await timedRun(['bin/m4me.js', 'process', '--json', '--quiet', '--now', NOW, '--config', config, '--store', url, join(wl, 'workload.mbox')]);
      replay = { messages: Number(wl.split('-').pop()), baseMs: base, pgMs: m, ratio: m / base };
    }
    // Parallel deliveries from one and from two hosts into the 10,000-request database.
    const tp = await throughputBench(urls[sizes[0]], work, cluster);
    return { sizes, load, pipe, memory, replay, throughput: tp };
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
  console.log(`  load: ${Object.entries(r.load).map(([n, l]) => `${n} requests ${(l.ms / 1000).toFixed(1)} s (${l.how}; then VACUUM ANALYZE ${(l.vacuumMs / 1000).toFixed(1)} s; database ${l.dbMB.toFixed(0)} MB)`).join(', ')}`);
  console.log(`  cluster memory during the pipe deliveries: peak PSS of all its processes ${r.memory.pssMB.toFixed(0)} MB, largest backend RSS ${r.memory.backendRssMB.toFixed(0)} MB`);
  if (r.replay) console.log(`  replay of ${(r.replay.messages ?? 2000).toLocaleString('en')} messages: ${(r.replay.pgMs / 1000).toFixed(1)} s vs bare mailparser ${(r.replay.baseMs / 1000).toFixed(1)} s = ${t(r.replay.ratio)}× (target ≤ 1.5×)`);
  const tp = r.throughput;
  if (tp) {
    const cpu = (x) => (x.m4meCpuMs + x.pgCpuMs) / x.messages;
    const row = (x) => `${x.perS.toFixed(2)} messages/s (${x.messages} in ${(x.ms / 1000).toFixed(1)} s${x.rounds ? `; rounds ${x.rounds.join(', ')}` : ''}); ` +
      `CPU per message m4me ${(x.m4meCpuMs / x.messages).toFixed(0)} ms + PostgreSQL ${(x.pgCpuMs / x.messages).toFixed(0)} ms; ` +
      `used ${x.ownCpus.toFixed(2)} of ${tp.cpus} CPUs, machine ${(x.machineBusy * 100).toFixed(0)}% busy`;
    console.log(`  throughput into PostgreSQL ${small}, ${tp.parallel} pipe deliveries at a time per host (median of ${TP_ROUNDS} rounds taking turns):`);
    console.log(`    1 host × 1: ${row(tp.serial)}`);
    console.log(`    1 host × ${tp.parallel}: ${row(tp.one)}`);
    console.log(`    2 hosts × ${tp.parallel}: ${row(tp.two)}`);
    console.log(`    scaling 2 hosts vs 1: ${t(tp.two.perS / tp.one.perS)}× (reported, no target); CPU-bound at most ${tp.cpus} CPUs / ${cpu(tp.two).toFixed(0)} ms = ` +
      `${(tp.cpus * 1000 / cpu(tp.two)).toFixed(2)} messages/s; a bare node start is ${tp.nodeStartCpuMs.toFixed(0)} ms of CPU`);
    console.log(`    ${tp.applied}/${tp.expected} messages in the ledger; automatic replies written ${tp.outboxes.join(' + ')} (host a + host b)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!existsSync(join(OUT, 'wl-500', 'store.json'))) {
    console.error('bench/pg.mjs: run npm run bench once first (it generates bench/out/wl-*)');
    process.exit(2);
  }
  mkdirSync(OUT, { recursive: true });
  if (process.argv.includes('--check-load')) process.exit((await checkLoad()) ? 0 : 1);
  const r = await pgBench();
  printPg(r);
  writeFileSync(join(OUT, 'pg-results.json'), `${JSON.stringify(r, null, 2)}\n`);
  if (r.skipped) process.exit(2);
}

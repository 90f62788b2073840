#!/usr/bin/env node
// `m4me serve` (LMTP) side by side with the pipe and the batch replay, in one run (issue 15's
// targets): the 2,000-message workload over 8 LMTP connections into a fresh copy of its
// 5,000-request store; per-message latency (p50, p99) against the median of pipe deliveries
// into the same store, and throughput against `process` replaying the same mbox. The envelope
// of each message is its From and To (as an MTA would pass them). The client is nodemailer's
// SMTPConnection with `lmtp: true` (a devDependency). Then the same on a PostgreSQL store
// (a private cluster, as bench/pg.mjs starts), against pipe deliveries and a batch replay
// into PostgreSQL.
//
//   node bench/serve.mjs           (npm run bench runs it too)
import { spawn } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pgBin, startCluster } from './pg.mjs';
import { median, ROOT, timedRun } from './timed.mjs';
import { performance } from 'node:perf_hooks';

const OUT = join(ROOT, 'bench', 'out');
const NOW = '2026-03-05T00:00:00+00:00';
const CONNECTIONS = 8;
const PIPE_RUNS = 11;

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];


/** The address in a header field of `raw` (the first <…> or bare address), lower-case. */
function addressIn(raw, name) {
  const head = raw.toString('latin1', 0, Math.min(raw.length, 65536)).split(/\r?\n\r?\n/, 1)[0];
  const line = new RegExp(`^${name}:(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head)?.[1] ?? '';
  const m = /<([^<>@\s]+@[^<>\s]+)>/.exec(line) ?? /([^\s<>,;:"]+@[^\s<>,;:"]+)/.exec(line);
  return m ? m[1].toLowerCase() : null;
}

async function messagesOf(mbox) {
  const { splitMbox } = await import('../dist/input/mbox.js');
  const out = [];
  for await (const m of splitMbox(createReadStream(mbox), mbox)) {
    const to = addressIn(m.raw, 'To');
    if (to) out.push({ raw: m.raw, from: addressIn(m.raw, 'From') ?? 'unknown@bench.invalid', to });
  }
  return out;
}

async function startServe(store, config) {
  const child = spawn(process.execPath, ['bin/m4me.js', 'serve', '--lmtp', '127.0.0.1:0', '--config', config, '--store', store, '--now', NOW], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const where = await new Promise((res, rej) => {
    child.stderr.on('data', (d) => { err += d; const m = /listening on (\S+?),? /.exec(err); if (m) res(m[1]); });
    child.on('exit', (code) => rej(new Error(`serve exited ${code}: ${err}`)));
  });
  return {
    child, port: Number(where.split(':').pop()), log: () => err,
    stop: () => new Promise((r) => { child.removeAllListeners('exit'); child.on('exit', r); child.kill('SIGTERM'); }),
  };
}

async function lmtpClient(port) {
  const { default: SMTPConnection } = await import('nodemailer/lib/smtp-connection/index.js');
  const socket = connect(port, '127.0.0.1');
  await new Promise((res, rej) => { socket.once('connect', res); socket.once('error', rej); });
  const c = new SMTPConnection({ connection: socket, lmtp: true, name: 'bench.invalid', socketTimeout: 120000 });
  await new Promise((res, rej) => { c.once('error', rej); c.connect(res); });
  return {
    send: (m) => new Promise((res, rej) => c.send({ from: m.from, to: [m.to] }, m.raw, (err, info) => (err && !info ? rej(err) : res(info)))),
    close: () => { try { c.quit(); } catch { /* gone */ } socket.destroy(); },
  };
}

/** `m4me serve` on `store`, the messages sent over CONNECTIONS connections, each sending its share in turn. */
async function lmtpRun(store, config, messages) {
  const srv = await startServe(store, config);
  const latencies = [];
  const replies = {};
  const t0 = performance.now();
  try {
    let next = 0;
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      const client = await lmtpClient(srv.port);
      try {
        while (next < messages.length) {
          const m = messages[next++];
          const t = performance.now();
          const info = await client.send(m);
          latencies.push(performance.now() - t);
          const code = String(info?.response ?? '').slice(0, 3) || 'error';
          replies[code] = (replies[code] ?? 0) + 1;
        }
      } finally { client.close(); }
    }));
  } finally {
    await srv.stop();
  }
  const serveMs = performance.now() - t0;
  // Each delivery's log line names the size of the group it was committed with.
  const groups = [...srv.log().matchAll(/ group=(\d+)/g)].map((m) => Number(m[1]));
  return {
    p50: pct(latencies, 0.5), p99: pct(latencies, 0.99),
    groupP50: groups.length ? pct(groups, 0.5) : null, groupMax: groups.length ? Math.max(...groups) : null,
    perMessageMs: serveMs / messages.length, servePerS: messages.length / (serveMs / 1000), replies,
  };
}

/** The batch replay's messages/s and the median pipe delivery (ms) into fresh copies made by `fresh`. */
async function references(fresh, config, wl, messages) {
  const batchMs = await timedRun(['bin/m4me.js', 'process', '--json', '--quiet', '--now', NOW, '--config', config, '--store', await fresh('batch'), join(wl, 'workload.mbox')]);
  const pipeStore = await fresh('pipe');
  const pipe = [];
  for (let i = 0; i <= PIPE_RUNS; i++) {
    const msg = `From: user1002@widget.example\nTo: widget-it@mail.4me.com\nSubject: pipe ${i}\nMessage-ID: <serve-pipe-${i}-${process.pid}@bench.invalid>\nDate: Thu, 05 Mar 2026 00:00:00 +0000\n\nHello\n`;
    const ms = await timedRun(['bin/m4me.js', 'process', '--quiet', '--now', NOW, '--config', config, '--store', pipeStore, '--sender', 'user1002@widget.example', '--recipient', 'widget-it@mail.4me.com'], { stdin: msg });
    if (i > 0) pipe.push(ms); // the first writes the saved index
  }
  return { pipeMedianMs: median(pipe), batchPerS: messages.length / (batchMs / 1000) };
}

export async function serveBench() {
  const wl = join(OUT, 'wl-2000');
  if (!existsSync(join(wl, 'workload.mbox'))) return { skipped: 'bench/out/wl-2000 missing (npm run bench -- --quick makes it)' };
  const work = mkdtempSync(join(OUT, 'serve-'));
  try {
    const config = join(work, 'm4me.json');
    writeFileSync(config, JSON.stringify({ mailDomain: 'mail.4me.com' }));
    const messages = await messagesOf(join(wl, 'workload.mbox'));
    const fresh = async (name) => { const path = join(work, `${name}.json`); copyFileSync(join(wl, 'store.json'), path); return path; };
    const json = { ...(await references(fresh, config, wl, messages)), ...(await lmtpRun(await fresh('serve'), config, messages)) };
    // The same on a PostgreSQL store (a private cluster), when PostgreSQL is installed.
    let pg = null;
    const bin = pgBin();
    if (bin) {
      const cluster = startCluster(bin);
      try {
        const freshDb = async (name) => {
          const url = cluster.createDb(`m4me_serve_${name}`);
          await timedRun(['bin/m4me.js', 'copy-store', join(wl, 'store.json'), url, '--quiet']);
          return url;
        };
        pg = { ...(await references(freshDb, config, wl, messages)), ...(await lmtpRun(await freshDb('serve'), config, messages)) };
      } finally {
        cluster.stop();
      }
    }
    return { messages: messages.length, ...json, pg };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function printServe(r) {
  if (r.skipped) { console.log(`\nm4me serve: skipped (${r.skipped})`); return; }
  const t = (x) => x.toFixed(2);
  const show = (name, x) => {
    console.log(`\nm4me serve on ${name} (LMTP, ${CONNECTIONS} connections, ${r.messages} messages; replies ${JSON.stringify(x.replies)}):`);
    console.log(`  latency per message p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms; wall time per message ${x.perMessageMs.toFixed(2)} ms; messages per group commit: median ${x.groupP50}, at most ${x.groupMax}`);
    console.log(`  per message vs pipe delivery median ${x.pipeMedianMs.toFixed(0)} ms: ${t(x.perMessageMs / x.pipeMedianMs)}× (target ≤ 0.1×)`);
    console.log(`  throughput ${x.servePerS.toFixed(0)} vs batch replay ${x.batchPerS.toFixed(0)} messages/s: ${t(x.batchPerS / x.servePerS)}× slower (target ≤ 1.5×)`);
  };
  show('the JSON store', r);
  if (r.pg) show('PostgreSQL', r.pg);
  else console.log('\nm4me serve on PostgreSQL: skipped (PostgreSQL is not installed)');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await serveBench();
  printServe(r);
  if (r.skipped) process.exit(2);
}

// Opens a store the way `m4me process` does (read and index it; through its saved index when
// there is a valid one) and prints one JSON line: requests, milliseconds, whether the saved
// index was used, peak RSS; or { error } when the store cannot be opened.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { defaultPaths, Store } from '../dist/store/store.js';

const path = process.argv[2];
const saved = existsSync(`${path}.index`);
const t0 = performance.now();
try {
  const store = await Store.open(defaultPaths(path), { lock: false, lockTimeoutMs: 0 });
  const ms = performance.now() - t0;
  const requests = store.index.tables.requests.count;
  await store.release();
  process.stdout.write(`${JSON.stringify({ requests, ms, savedIndex: saved, rssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ error: `${err.status ?? ''} ${err.message}`.trim(), ms: performance.now() - t0 })}\n`);
}

// Loads and indexes a store the way `m4me process` does, and prints how long it took.
import { performance } from 'node:perf_hooks';
import { defaultPaths, Store } from '../dist/store/store.js';

const t0 = performance.now();
const store = await Store.open(defaultPaths(process.argv[2]), { lock: false, lockTimeoutMs: 0 });
process.stdout.write(`${store.data.requests.length} requests in ${(performance.now() - t0).toFixed(0)} ms\n`);

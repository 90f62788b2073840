// Preloaded into a benchmarked process (node --import): reports its peak RSS on exit.
import { writeSync } from 'node:fs';
process.on('exit', () => {
  writeSync(2, `\nM4ME_BENCH maxrss_kb=${process.resourceUsage().maxRSS}\n`);
});

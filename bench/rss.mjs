// Preloaded into a benchmarked process (node --import): reports its peak RSS and the CPU time
// it used (all its threads, and the children it waited for, such as `sync -f`) on exit.
import { readFileSync, writeSync } from 'node:fs';
process.on('exit', () => {
  const u = process.resourceUsage();
  let children = 0;
  try {
    // /proc/self/stat fields 16 and 17: cutime and cstime, in clock ticks (100 a second on Linux).
    const f = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
    children = (Number(f[13]) + Number(f[14])) * 10_000;
  } catch { /* not Linux */ }
  writeSync(2, `\nM4ME_BENCH maxrss_kb=${u.maxRSS} cpu_us=${u.userCPUTime + u.systemCPUTime + children}\n`);
});

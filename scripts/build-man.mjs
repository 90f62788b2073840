// Writes man/m4me.1 from the commander definitions of the built CLI (npm run build), so the
// manual cannot drift from the commands. The date is the last commit's, for a reproducible page.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { program } = await import(join(root, 'dist', 'cli', 'main.js'));
const { manPage } = await import(join(root, 'dist', 'cli', 'docs.js'));
let date;
try {
  date = execFileSync('git', ['log', '-1', '--format=%cs'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch { /* not a checkout */ }
mkdirSync(join(root, 'man'), { recursive: true });
writeFileSync(join(root, 'man', 'm4me.1'), manPage(program(), date || new Date().toISOString().slice(0, 10)));

// Rebuilds demo.mbox from the numbered samples (mboxrd), then sample 01 once more to show
// that a message delivered twice is recognised as a duplicate.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(dir).filter((f) => /^\d\d-.*\.eml$/.test(f)).sort();
const entry = (file) => {
  const text = readFileSync(join(dir, file), 'latin1').replace(/\r\n/g, '\n');
  const from = /^From:.*?<?([^<>\s]+@[^<>\s]+)>?\s*$/m.exec(text)?.[1] ?? 'MAILER-DAEMON';
  const quoted = text.replace(/^(>*From )/gm, '>$1');
  return `From ${from} Mon Mar  2 08:00:00 2026\n${quoted}${quoted.endsWith('\n') ? '' : '\n'}\n`;
};
writeFileSync(join(dir, 'demo.mbox'), [...files, files[0]].map(entry).join(''), 'latin1');
console.log(`demo.mbox: ${files.length + 1} messages`);

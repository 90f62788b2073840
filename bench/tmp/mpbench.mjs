import { readFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
const { parseEmail } = await import('/work/main/dist/mail/parse.js');
const s = readFileSync(process.argv[2]);
// split on \nFrom 
const msgs = []; let start = 0;
const txt = s.toString('latin1');
let idx = 0;
const starts = [0]; let re = /\nFrom /g, m;
while ((m = re.exec(txt))) starts.push(m.index + 1);
for (let i = 0; i < starts.length; i++) {
  const chunk = s.subarray(starts[i], i + 1 < starts.length ? starts[i + 1] : s.length);
  const nl = chunk.indexOf(10);
  msgs.push(chunk.subarray(nl + 1));
}
const multi = msgs.filter(b => /^Content-Type:\s*multipart/mi.test(b.subarray(0, 4000).toString('latin1')));
const single = msgs.filter(b => !/^Content-Type:\s*multipart/mi.test(b.subarray(0, 4000).toString('latin1')));
async function t(name, list, f) {
  for (let r = 0; r < 2; r++) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (const b of list) await f(b);
    const c = process.cpuUsage(c0);
    console.log(name, list.length, (performance.now() - t0).toFixed(0), 'ms wall', ((c.user + c.system) / 1000).toFixed(0), 'ms cpu');
  }
}
await t('mailparser multi', multi, (b) => simpleParser(b));
await t('parseEmail multi', multi, (b) => parseEmail(b, null));
await t('mailparser single', single, (b) => simpleParser(b));
await t('parseEmail single', single, (b) => parseEmail(b, null));

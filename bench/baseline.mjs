// The baseline: bare mailparser simpleParser over every message of an mbox, split the same way.
import { createReadStream } from 'node:fs';
import { simpleParser } from 'mailparser';
import { splitMbox } from '../dist/input/mbox.js';

let n = 0;
for await (const m of splitMbox(createReadStream(process.argv[2]), process.argv[2])) {
  await simpleParser(m.raw);
  n++;
}
process.stdout.write(`${n}\n`);

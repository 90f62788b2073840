#!/usr/bin/env node
// The m4me executable: the compiled CLI lives in dist/ (built by `npm install` / `npm run build`),
// bundled into one module (dist/cli/m4me.js): a delivery resolves and reads one file, not forty.
import('../dist/cli/m4me.js').then(
  async ({ main }) => {
    const code = await main(process.argv);
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`4.3.5 m4me: not built (${err.code ?? err.message}): run npm run build\n`);
    process.exitCode = 75;
  },
);

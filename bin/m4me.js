#!/usr/bin/env node
// The m4me executable: the compiled CLI lives in dist/ (built by `npm install` / `npm run build`).
import('../dist/cli/main.js').then(
  async ({ main }) => {
    const code = await main(process.argv);
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`m4me: 4.3.5 m4me is not built (${err.code ?? err.message}): run npm run build\n`);
    process.exitCode = 75;
  },
);

// Reads jest's --json result and prints the plain closing line CI reads:
// 'N passed, N failed, N skipped'. A test file that could not run (syntax error,
// failing import) counts as one failed test; no result at all (the type check or
// the build failed before jest ran) is '0 passed, 1 failed, 0 skipped' and exit 1.
import { readFileSync } from 'node:fs';

let r;
try {
  r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
} catch {
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
}
const brokenFiles = r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
const failed = r.numFailedTests + brokenFiles;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || r.numTotalTests === 0 ? 1 : 0);

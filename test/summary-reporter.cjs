// Prints one plain closing line, 'N passed, N failed, N skipped', that CI reads.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: p, numFailedTests: f, numPendingTests: s, numTotalTests: t } = results;
    process.stdout.write(`\nTests: ${p} passed, ${f} failed, ${s} skipped\n`);
    if (t === 0) process.stdout.write('no tests ran\n');
  }
}
module.exports = SummaryReporter;

// Prints one plain closing line, 'N passed, N failed, N skipped', that CI reads. Jest's own
// summary (on stderr) comes after every reporter's onRunComplete, so the line is written when
// the process exits, which makes it the last line of the run's output.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: p, numFailedTests: f, numPendingTests: s, numTotalTests: t } = results;
    const line = t === 0 ? 'no tests ran\n' : `\nTests: ${p} passed, ${f} failed, ${s} skipped\n`;
    process.once('exit', () => process.stdout.write(line));
  }
}
module.exports = SummaryReporter;

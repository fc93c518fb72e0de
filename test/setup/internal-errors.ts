/**
 * Test-suite guard (vitest setupFiles): a test fails when the guard of src/session/guard.ts reported
 * an internal error during it (a caught exception is a bug, not a pass), unless the test declared
 * it with `expectInternalErrors()`, and when an unhandled rejection or uncaught exception happened
 * during it. Vitest itself also fails the run on the latter two; this names the test.
 */

import { afterAll, afterEach, beforeEach } from 'vitest';
import { onInternalError } from '../../src/session/guard.ts';
import { describeReports, internalErrorLog } from '../internal-errors.ts';

const escaped: unknown[] = [];

onInternalError((report) => {
  internalErrorLog.reports.push(report);
});
process.on('unhandledRejection', (reason) => {
  escaped.push(reason);
});
process.on('uncaughtException', (error) => {
  escaped.push(error);
});

beforeEach(() => {
  internalErrorLog.reports.length = 0;
  internalErrorLog.expected = false;
  escaped.length = 0;
});

function check(when: string): void {
  const reports = internalErrorLog.reports.splice(0);
  const expected = internalErrorLog.expected;
  internalErrorLog.expected = false;
  const leaks = escaped.splice(0);
  if (leaks.length > 0) {
    throw new Error(`${when}: ${leaks.length} unhandled rejection(s) or uncaught exception(s): ${leaks.map((e) => (e instanceof Error ? e.stack ?? e.message : String(e))).join('\n')}`);
  }
  if (reports.length > 0 && !expected) {
    throw new Error(`${when}: the guard caught ${reports.length} internal error(s) (bugs; a test that provokes one on purpose calls expectInternalErrors()):\n${describeReports(reports)}`);
  }
}

afterEach(() => {
  check('during this test');
});

afterAll(() => {
  check('after the last test of the file');
});

/** What the test-suite guard (test/setup/internal-errors.ts) saw, and how a test says it provokes internal errors on purpose. */

import type { InternalErrorReport } from '../src/session/guard.ts';

export const internalErrorLog: { reports: InternalErrorReport[]; expected: boolean } = { reports: [], expected: false };

/**
 * Declares that the running test provokes internal errors on purpose (a throwing handler, a broken
 * store): they do not fail it. Returns the live list of reports, to assert on.
 */
export function expectInternalErrors(): readonly InternalErrorReport[] {
  internalErrorLog.expected = true;
  return internalErrorLog.reports;
}

export function describeReports(reports: readonly InternalErrorReport[]): string {
  return reports
    .map((r) => `  - in ${r.where}${r.connection === undefined ? '' : ` (connection ${r.connection}${r.stream === undefined ? '' : `, stream ${r.stream}`})`}: ${r.error instanceof Error ? r.error.stack ?? r.error.message : String(r.error)}`)
    .join('\n');
}

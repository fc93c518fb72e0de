/**
 * L6: the black-box conformance runner. It speaks to a target only through raw sockets and
 * src/wire, never through the session, so a bug cannot hide on both sides of a test.
 */

export { runConformance, caseFilter, type ConformanceOptions } from './runner.ts';
export { formatTerminal, formatJson, formatJUnit } from './reporters.ts';
export { allCases } from './cases/index.ts';
export { conformanceService, ECHO_KIND, SINK_KIND } from './echo-service.ts';
export type { CaseResult, ConformanceCase, Feature, Level, Outcome, Report, Verdict } from './types.ts';

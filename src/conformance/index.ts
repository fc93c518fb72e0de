/**
 * L6: the black-box conformance runner. It speaks to a target only through raw sockets and
 * src/wire, never through the session, so a bug cannot hide on both sides of a test.
 */

import { allCases as builtInCases } from './cases/index.ts';
import type { ConformanceCase } from './types.ts';

export { runConformance, caseFilter, TargetUnreachable, type ConformanceOptions } from './runner.ts';
export { formatTerminal, formatJson, formatJUnit } from './reporters.ts';
export { verdicts } from './types.ts';
export { conformanceService, ECHO_KIND, SINK_KIND } from './echo-service.ts';
export type { Transport } from './link.ts';
export type { CaseResult, ConformanceCase, Feature, Level, Outcome, Report, Verdict } from './types.ts';

/** Every built-in case, in run order. */
export const allCases: readonly ConformanceCase[] = builtInCases;

/**
 * L6: the benchmark kinds (spec/PROTOCOL.md, "Benchmark kinds"). The driver behind `framewire perf`
 * is a client of the public protocol only (connect() and streams), so it measures any framewire
 * server; the service is what `framewire serve --perf` adds to offer the kinds. The lint layer rule
 * keeps both off the session internals.
 */

export { runPerf, MAX_PERF_MESSAGE, MAX_PERF_STREAMS, type LatencySummary, type PerfDirection, type PerfOptions, type PerfResult } from './driver.ts';
export { formatPerf } from './format.ts';
export { defaultPerfLimits, PERF_KINDS, PerfKind, type PerfLimits, type PerfTrailer } from './kinds.ts';
export { perfService } from './service.ts';

/**
 * L6: the benchmark kinds (spec/PROTOCOL.md, "Benchmark kinds"). The service is what `framewire
 * serve --perf` adds to offer the kinds; it uses the public stream API only, and the lint layer rule
 * keeps it off the session internals.
 */

export { defaultPerfLimits, PERF_KINDS, PerfKind, type PerfLimits, type PerfTrailer } from './kinds.ts';
export { perfService } from './service.ts';

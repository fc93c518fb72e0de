/**
 * The benchmark stream kinds (spec/PROTOCOL.md, "Benchmark kinds"): what `framewire perf` opens and
 * what `framewire serve --perf` offers. Names, the OPEN meta of `perf.source`, the DONE trailers,
 * and the server's limits with their defaults, shared by both sides so they cannot drift.
 */

import type { ControlMap } from '../wire/index.ts';

/** The driver's bounds (framewire perf -P and -l); here, without the driver, so the CLI can show them in --help. */
export const MAX_PERF_STREAMS = 1024;
export const MAX_PERF_MESSAGE = 16 * 1024 * 1024;

export const PerfKind = {
  /** Reads and discards everything the client sends; DONE trailer: what arrived (FW-PERF-2). */
  sink: 'perf.sink',
  /** Sends `bytes` (or for `duration_ms`) in messages of `message_size` to the client (FW-PERF-3). */
  source: 'perf.source',
  /** Sends every message back unchanged; the latency probe (FW-PERF-4). */
  echo: 'perf.echo',
} as const;
export type PerfKindName = (typeof PerfKind)[keyof typeof PerfKind];

export const PERF_KINDS: readonly PerfKindName[] = [PerfKind.sink, PerfKind.source, PerfKind.echo];

/**
 * The server's bounds on the benchmark kinds (FW-PERF-5). They cost the server CPU and bandwidth
 * rather than memory (every kind is flow-controlled), so each is a budget of those.
 */
export interface PerfLimits {
  /** perf.* streams open at once on the whole server; one more is refused with REFUSED_STREAM. */
  readonly maxStreams: number;
  /** Bytes one perf.* stream may carry (each direction); beyond, LIMIT_EXCEEDED. */
  readonly maxStreamBytes: number;
  /** Lifetime of one perf.* stream; a stream still open then fails with TIMEOUT. */
  readonly maxStreamDurationMs: number;
  /** Largest `message_size` a perf.source request may ask for. */
  readonly maxSourceMessageSize: number;
}

export const defaultPerfLimits: PerfLimits = {
  maxStreams: 64,
  maxStreamBytes: 64 * 2 ** 30,
  maxStreamDurationMs: 60_000,
  maxSourceMessageSize: 1024 * 1024,
};

/** The OPEN meta of perf.source: at least one of `bytes` and `duration_ms`. */
export interface SourceRequest {
  /** Bytes to send; with `duration_ms`, whichever ends first; without, until the server's byte limit. */
  readonly bytes?: number;
  readonly message_size: number;
  readonly duration_ms?: number;
}

/** The DONE trailer of perf.sink and perf.source (FW-PERF-2..4). */
export interface PerfTrailer {
  /** Message payload bytes the server received (sink) or sent (source). */
  readonly bytes: number;
  /** Messages sent (source) or received (echo); the sink does not count them. */
  readonly messages?: number;
  /** Milliseconds from the OPEN to the end of the data, as the server saw it. */
  readonly elapsed_ms: number;
  /** The server process's CPU time (user + system) over the same interval, in µs, where it can tell. */
  readonly cpu_us?: number;
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks a perf.source meta: a reason (MALFORMED_PAYLOAD) or the request. */
export function parseSourceRequest(meta: ControlMap | undefined): SourceRequest | string {
  if (meta === undefined) return 'perf.source needs meta {message_size, bytes and/or duration_ms}';
  const { bytes, message_size: size, duration_ms: duration } = meta;
  if (!isUint(size) || size === 0) return 'meta.message_size must be an integer >= 1';
  if (bytes !== undefined && !isUint(bytes)) return 'meta.bytes must be an unsigned integer';
  if (duration !== undefined && !isUint(duration)) return 'meta.duration_ms must be an unsigned integer';
  if (bytes === undefined && duration === undefined) return 'perf.source needs meta.bytes, meta.duration_ms or both';
  return { message_size: size, ...(bytes === undefined ? {} : { bytes }), ...(duration === undefined ? {} : { duration_ms: duration }) };
}

/** Reads a trailer the server sent, checking the keys the client relies on. */
export function parseTrailer(trailer: ControlMap | undefined): PerfTrailer | undefined {
  if (trailer === undefined || !isUint(trailer['bytes']) || !isUint(trailer['elapsed_ms'])) return undefined;
  const messages = trailer['messages'];
  const cpu = trailer['cpu_us'];
  return {
    bytes: trailer['bytes'],
    elapsed_ms: trailer['elapsed_ms'],
    ...(isUint(messages) ? { messages } : {}),
    ...(isUint(cpu) ? { cpu_us: cpu } : {}),
  };
}

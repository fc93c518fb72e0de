/**
 * The client side of `framewire perf`: drives any framewire server that offers the benchmark kinds
 * (spec/PROTOCOL.md, "Benchmark kinds") over the public protocol only, like iperf3 or h2load. N
 * streams move data one way (perf.sink: client → server; perf.source: server → client) for a
 * duration or a byte count, while a latency probe measures round trips on the same connection: a
 * PING frame (which jumps queued DATA, FW-SCHED-1) and a small message on a perf.echo stream (which
 * waits behind the bulk streams' DATA like any application message). Both are also measured before
 * the load starts, so the difference is what the load costs.
 */

import * as hdr from 'hdr-histogram-js';
import { connect, type ConnectOptions } from '../client.ts';
import type { Connection } from '../connection.ts';
import { checkInteger } from '../arguments.ts';
import { FramewireError, invalidArgument } from '../errors.ts';
import type { Stream } from '../session/index.ts';
import { MAX_PERF_MESSAGE, MAX_PERF_STREAMS, parseTrailer, PerfKind, type PerfTrailer } from './kinds.ts';

export { MAX_PERF_MESSAGE, MAX_PERF_STREAMS };

export type PerfDirection = 'send' | 'receive';

export interface PerfOptions {
  readonly host: string;
  readonly port: number;
  /** TLS, auth and timeouts, as for any client. */
  readonly connect?: Omit<ConnectOptions, 'host' | 'port' | 'signal'>;
  /** Concurrent data streams (1..MAX_PERF_STREAMS). */
  readonly streams: number;
  /** Bytes per message (1..MAX_PERF_MESSAGE). */
  readonly messageSize: number;
  /** send: client → server (perf.sink); receive: server → client (perf.source). */
  readonly direction: PerfDirection;
  /** Run for this long… */
  readonly durationMs?: number;
  /** …or move this many bytes in total (over all streams). Exactly one of the two. */
  readonly bytes?: number;
  /** Time between latency probes under load; 0 turns the probe off. */
  readonly probeIntervalMs: number;
  /** Probes before the load starts (the idle baseline). */
  readonly idleProbes: number;
  /** Bytes of the perf.echo probe message. */
  readonly probeSize: number;
  readonly signal?: AbortSignal;
  /** Called every progressIntervalMs with the bytes moved so far (for iperf3-style interval lines). */
  readonly onProgress?: (p: { readonly elapsedMs: number; readonly bytes: number }) => void;
  readonly progressIntervalMs?: number;
}

/** How often (in messages) the sender looks at the clock. */
const CLOCK_EVERY = 64;

export interface LatencySummary {
  readonly count: number;
  readonly minUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

export interface PerfResult {
  readonly target: string;
  readonly direction: PerfDirection;
  readonly streams: number;
  readonly messageSize: number;
  readonly durationMs: number | undefined;
  readonly bytesRequested: number | undefined;
  /** Payload bytes the receiving application confirmed (the server's trailer, or what we read). */
  readonly bytes: number;
  readonly messages: number;
  /** From the first byte written (or the OPENs) to the last stream's DONE. */
  readonly seconds: number;
  /** 10^6 bytes per second. */
  readonly mbPerSec: number;
  readonly messagesPerSec: number;
  readonly client: { readonly cpuSeconds: number; readonly cpuSecPerGiB: number; readonly cpuNsPerMessage: number };
  /** From the servers' trailers (cpu_us), where the server reports it. */
  readonly server: { readonly cpuSeconds: number; readonly cpuSecPerGiB: number; readonly cpuNsPerMessage: number } | undefined;
  readonly latency: {
    readonly intervalMs: number;
    readonly probeSize: number;
    readonly pingIdle: LatencySummary | undefined;
    readonly pingLoaded: LatencySummary | undefined;
    readonly echoIdle: LatencySummary | undefined;
    readonly echoLoaded: LatencySummary | undefined;
  };
}

function validate(o: PerfOptions): void {
  checkInteger('streams', o.streams, 1, MAX_PERF_STREAMS);
  checkInteger('messageSize', o.messageSize, 1, MAX_PERF_MESSAGE);
  checkInteger('probeIntervalMs', o.probeIntervalMs, 0, 60_000);
  checkInteger('idleProbes', o.idleProbes, 0, 10_000);
  checkInteger('probeSize', o.probeSize, 1, 65_536);
  if ((o.durationMs === undefined) === (o.bytes === undefined)) throw invalidArgument('give exactly one of durationMs and bytes');
  if (o.durationMs !== undefined) checkInteger('durationMs', o.durationMs, 1, 24 * 3_600_000);
  if (o.bytes !== undefined) checkInteger('bytes', o.bytes, 1);
}

class Latency {
  readonly #h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

  record(us: number): void {
    this.#h.recordValue(Math.max(1, Math.round(us)));
  }

  summary(): LatencySummary | undefined {
    const h = this.#h;
    // A percentile is the top of its bucket, which may lie a little above the largest value recorded.
    const at = (p: number): number => Math.min(h.getValueAtPercentile(p), h.maxValue);
    const out = h.totalCount === 0 ? undefined : { count: h.totalCount, minUs: h.minNonZeroValue, p50Us: at(50), p90Us: at(90), p99Us: at(99), maxUs: h.maxValue };
    h.destroy();
    return out;
  }
}

/** The latency probe: a PING frame, then one message on perf.echo, per round. */
class Probe {
  readonly #conn: Connection;
  readonly #echo: Stream;
  readonly #reader: AsyncIterator<Uint8Array>;
  readonly #message: Uint8Array;

  constructor(conn: Connection, size: number) {
    this.#conn = conn;
    this.#echo = conn.open({ kind: PerfKind.echo });
    this.#reader = this.#echo[Symbol.asyncIterator]();
    this.#message = Buffer.alloc(size, 0x70);
  }

  async round(ping: Latency, echo: Latency): Promise<void> {
    ping.record((await this.#conn.ping()) * 1000);
    const t0 = performance.now();
    await this.#echo.write(this.#message);
    const r = await this.#reader.next();
    if (r.done === true || r.value.length !== this.#message.length) throw new FramewireError('PROTOCOL_ERROR', 'perf.echo did not send the probe back');
    echo.record((performance.now() - t0) * 1000);
  }

  async close(): Promise<void> {
    await this.#echo.end();
    while ((await this.#reader.next()).done !== true);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits `total` over `n` parts that differ by at most one. */
function share(total: number, n: number, i: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0);
}

interface Moved {
  bytes: number;
  messages: number;
}

function checkTrailer(stream: Stream, expectBytes: number | undefined): PerfTrailer {
  const t = parseTrailer(stream.trailer);
  if (t === undefined) throw new FramewireError('MALFORMED_PAYLOAD', `${stream.kind}: the server's DONE has no {bytes, elapsed_ms} trailer`);
  if (expectBytes !== undefined && t.bytes !== expectBytes) throw new FramewireError('PROTOCOL_ERROR', `${stream.kind}: the server counted ${t.bytes} bytes, ${expectBytes} were moved`);
  return t;
}

async function sendOne(conn: Connection, o: PerfOptions, quota: number, deadline: number, moved: Moved): Promise<PerfTrailer> {
  const stream = conn.open({ kind: PerfKind.sink });
  const size = o.messageSize;
  // Never modified, so queueing the same buffer again and again is safe (Stream.send's no-copy rule).
  const message = Buffer.alloc(size, 0xa5);
  let sent = 0;
  let messages = 0;
  while (sent < quota) {
    if (messages % CLOCK_EVERY === 0 && performance.now() >= deadline) break;
    const n = Math.min(size, quota - sent);
    if (!stream.send(n === size ? message : message.subarray(0, n))) await stream.drained();
    sent += n;
    messages++;
    moved.bytes += n;
    moved.messages++;
  }
  await stream.end();
  // The sink sends nothing; its direction ends with the DONE that carries the trailer.
  const rest = stream.chunks();
  while ((await rest.next()).done !== true);
  return checkTrailer(stream, sent);
}

async function receiveOne(conn: Connection, o: PerfOptions, quota: number, moved: Moved): Promise<PerfTrailer> {
  // In duration mode no byte count is asked for: the source stops at the duration (or at its own byte limit).
  const meta = { message_size: o.messageSize, ...(Number.isFinite(quota) ? { bytes: quota } : {}), ...(o.durationMs === undefined ? {} : { duration_ms: o.durationMs }) };
  const stream = conn.open({ kind: PerfKind.source, meta });
  const ending = stream.end();
  let got = 0;
  for await (const batch of stream.batches()) {
    let n = 0;
    for (const m of batch) n += m.length;
    got += n;
    moved.bytes += n;
    moved.messages += batch.length;
  }
  await ending;
  return checkTrailer(stream, got);
}

/** Runs one measurement against `host:port`; rejects with a FramewireError when the server refuses or fails. */
export async function runPerf(o: PerfOptions): Promise<PerfResult> {
  validate(o);
  const conn = await connect({ ...o.connect, host: o.host, port: o.port, ...(o.signal === undefined ? {} : { signal: o.signal }) });
  try {
    return await measure(conn, o);
  } finally {
    await conn.goaway({ deadlineMs: 1000 }).catch(() => undefined);
  }
}

async function measure(conn: Connection, o: PerfOptions): Promise<PerfResult> {
  const probing = o.probeIntervalMs > 0;
  const probe = probing ? new Probe(conn, o.probeSize) : undefined;
  const pingIdle = new Latency();
  const echoIdle = new Latency();
  const pingLoaded = new Latency();
  const echoLoaded = new Latency();
  for (let i = 0; probe !== undefined && i < o.idleProbes; i++) {
    await probe.round(pingIdle, echoIdle);
    await sleep(Math.min(o.probeIntervalMs, 20));
  }

  const moved: Moved = { bytes: 0, messages: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = o.durationMs === undefined ? Infinity : t0 + o.durationMs;
  const quota = (i: number): number => (o.bytes === undefined ? Infinity : share(o.bytes, o.streams, i));
  const runs: Promise<PerfTrailer>[] = [];
  for (let i = 0; i < o.streams; i++) runs.push(o.direction === 'send' ? sendOne(conn, o, quota(i), deadline, moved) : receiveOne(conn, o, quota(i), moved));
  const all = Promise.all(runs);
  // Probing stops when every stream is done, or one failed (then `all` reports its error).
  let done = false;
  const settled = all.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  // Read through a function: narrowing does not see the callbacks above set it.
  const loadDone = (): boolean => done;

  let progressError: Error | undefined;
  const progressTimer =
    o.onProgress === undefined
      ? undefined
      : setInterval(() => {
          try {
            o.onProgress?.({ elapsedMs: performance.now() - t0, bytes: moved.bytes });
          } catch (error) {
            progressError ??= error instanceof Error ? error : new Error(String(error));
          }
        }, o.progressIntervalMs ?? 1000);
  try {
    while (probe !== undefined && !loadDone()) {
      await Promise.race([sleep(o.probeIntervalMs), settled]);
      if (!loadDone()) await probe.round(pingLoaded, echoLoaded);
    }
    const trailers = await all;
    const seconds = (performance.now() - t0) / 1000;
    const clientCpu = process.cpuUsage(cpu0);
    await probe?.close();
    if (progressError !== undefined) throw progressError;
    return result(o, trailers, moved, seconds, (clientCpu.user + clientCpu.system) / 1e6, { pingIdle, echoIdle, pingLoaded, echoLoaded });
  } finally {
    if (progressTimer !== undefined) clearInterval(progressTimer);
  }
}

function result(o: PerfOptions, trailers: readonly PerfTrailer[], moved: Moved, seconds: number, clientCpuSeconds: number, l: Record<'pingIdle' | 'echoIdle' | 'pingLoaded' | 'echoLoaded', Latency>): PerfResult {
  const bytes = trailers.reduce((sum, t) => sum + t.bytes, 0);
  const messages = o.direction === 'send' ? moved.messages : trailers.reduce((sum, t) => sum + (t.messages ?? 0), 0);
  const GiB = 2 ** 30;
  const costs = (cpuSeconds: number): { cpuSeconds: number; cpuSecPerGiB: number; cpuNsPerMessage: number } => ({
    cpuSeconds,
    cpuSecPerGiB: bytes > 0 ? cpuSeconds / (bytes / GiB) : NaN,
    cpuNsPerMessage: messages > 0 ? (cpuSeconds / messages) * 1e9 : NaN,
  });
  // The streams ran at the same time, and each trailer's cpu_us is the server process's CPU over
  // that stream's life: the largest one covers them all.
  const serverCpuUs = trailers.every((t) => t.cpu_us !== undefined) ? Math.max(...trailers.map((t) => t.cpu_us ?? 0)) : undefined;
  return {
    target: `${o.host}:${o.port}`,
    direction: o.direction,
    streams: o.streams,
    messageSize: o.messageSize,
    durationMs: o.durationMs,
    bytesRequested: o.bytes,
    bytes,
    messages,
    seconds,
    mbPerSec: bytes / seconds / 1e6,
    messagesPerSec: messages / seconds,
    client: costs(clientCpuSeconds),
    server: serverCpuUs === undefined ? undefined : costs(serverCpuUs / 1e6),
    latency: {
      intervalMs: o.probeIntervalMs,
      probeSize: o.probeSize,
      pingIdle: l.pingIdle.summary(),
      pingLoaded: l.pingLoaded.summary(),
      echoIdle: l.echoIdle.summary(),
      echoLoaded: l.echoLoaded.summary(),
    },
  };
}

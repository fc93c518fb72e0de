/**
 * The server side of the benchmark kinds (spec/PROTOCOL.md, "Benchmark kinds", FW-PERF-1..5): a
 * sink, a source and an echo, each bounded by PerfLimits (streams at once, bytes and lifetime per
 * stream). Off unless a server adds the service (`framewire serve --perf`): a client that may open
 * them can make the server spend CPU and bandwidth at will, within those bounds.
 *
 * `conformance.sink` cannot stand in for perf.sink (it never reads, on purpose, so flow-control
 * cases can overrun it), and `conformance.echo` has no bounds; perf.echo keeps its trailer shape.
 */

import type { StreamService } from '../session/index.ts';
import { defaultPerfLimits, parseSourceRequest, PERF_KINDS, PerfKind, type PerfLimits, type PerfTrailer } from './kinds.ts';

type ServiceStream = Parameters<StreamService['handle']>[0];

/** How often (in messages) a source looks at the clock: performance.now() per 64-byte message showed. */
const CLOCK_EVERY = 64;

/** What a perf stream measures from its OPEN on: wall time and the process's CPU. */
class Meter {
  readonly #t0 = performance.now();
  readonly #cpu = process.cpuUsage();

  trailer(bytes: number, messages?: number): PerfTrailer {
    const cpu = process.cpuUsage(this.#cpu);
    return { bytes, ...(messages === undefined ? {} : { messages }), elapsed_ms: Math.round(performance.now() - this.#t0), cpu_us: cpu.user + cpu.system };
  }
}

function overBytes(stream: ServiceStream, bytes: number, limits: PerfLimits): boolean {
  if (bytes <= limits.maxStreamBytes) return false;
  stream.fail('LIMIT_EXCEEDED', `${stream.kind}: more than ${limits.maxStreamBytes} bytes on one stream`);
  return true;
}

async function sink(stream: ServiceStream, limits: PerfLimits): Promise<void> {
  const meter = new Meter();
  let bytes = 0;
  // The byte-stream view: no message reassembly, so any message size is read as it arrives.
  for await (const chunk of stream.chunks()) {
    bytes += chunk.length;
    if (overBytes(stream, bytes, limits)) return;
  }
  await stream.end({ ...meter.trailer(bytes) });
}

async function echo(stream: ServiceStream, limits: PerfLimits): Promise<void> {
  const meter = new Meter();
  let bytes = 0;
  let messages = 0;
  for await (const message of stream) {
    bytes += message.length;
    messages++;
    if (overBytes(stream, bytes, limits)) return;
    await stream.write(message);
  }
  await stream.end({ ...meter.trailer(bytes, messages) });
}

/** Reads and drops whatever the client sends on a source stream (it should send nothing). */
async function discard(stream: ServiceStream): Promise<void> {
  const chunks = stream.chunks();
  while ((await chunks.next()).done !== true);
}

async function source(stream: ServiceStream, limits: PerfLimits): Promise<void> {
  const meter = new Meter();
  const request = parseSourceRequest(stream.meta);
  if (typeof request === 'string') {
    stream.fail('MALFORMED_PAYLOAD', request);
    return;
  }
  const { message_size: size, duration_ms: durationMs } = request;
  const total = request.bytes ?? limits.maxStreamBytes;
  if (total > limits.maxStreamBytes || (durationMs ?? 0) > limits.maxStreamDurationMs || size > limits.maxSourceMessageSize) {
    stream.fail('LIMIT_EXCEEDED', `perf.source: asked for ${total} bytes in ${size}-byte messages over ${durationMs ?? '-'} ms; this server allows ${limits.maxStreamBytes} bytes, ${limits.maxSourceMessageSize}-byte messages, ${limits.maxStreamDurationMs} ms`, { retryable: false });
    return;
  }
  // Its rejection, when the stream fails, is the sending loop's to report.
  const reading = discard(stream).catch(() => undefined);
  const message = Buffer.alloc(size, 0x5a);
  const deadline = durationMs === undefined ? Infinity : performance.now() + durationMs;
  let sent = 0;
  let messages = 0;
  while (sent < total) {
    if (messages % CLOCK_EVERY === 0 && performance.now() >= deadline) break;
    const n = Math.min(size, total - sent);
    // The same buffer every time: it is never modified, so queueing it many times is safe.
    if (!stream.send(n === size ? message : message.subarray(0, n))) await stream.drained();
    sent += n;
    messages++;
  }
  await stream.end({ ...meter.trailer(sent, messages) });
  await reading;
}

const serve: Readonly<Record<string, ((stream: ServiceStream, limits: PerfLimits) => Promise<void>) | undefined>> = {
  [PerfKind.sink]: sink,
  [PerfKind.source]: source,
  [PerfKind.echo]: echo,
};

/** The benchmark kinds as one service, bounded by `limits`; add it to `createServer({ services })`. */
export function perfService(overrides: Partial<PerfLimits> = {}): StreamService {
  const limits: PerfLimits = { ...defaultPerfLimits, ...overrides };
  let open = 0;
  return {
    kinds: PERF_KINDS,
    handle(stream) {
      const run = serve[stream.kind];
      if (run === undefined) {
        stream.fail('NOT_FOUND', `no perf kind "${stream.kind}"`);
        return undefined;
      }
      if (open >= limits.maxStreams) {
        // Refused before anything of it was processed, because of a limit: REFUSED_STREAM (FW-STREAM-8).
        stream.fail('REFUSED_STREAM', `${limits.maxStreams} perf streams are open on this server; retry later`);
        return undefined;
      }
      open++;
      const timer = setTimeout(() => {
        stream.fail('TIMEOUT', `${stream.kind}: open longer than ${limits.maxStreamDurationMs} ms`);
      }, limits.maxStreamDurationMs);
      // A rejection (cancelled, failed by a limit, the connection gone) reaches the session, which
      // fails the stream unless it has ended already; the producer stops here (FW-STREAM-5).
      return run(stream, limits).finally(() => {
        clearTimeout(timer);
        open--;
      });
    },
  };
}

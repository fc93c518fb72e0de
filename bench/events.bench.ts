/**
 * Event streams over TCP loopback (spec/EVENTS.md): throughput of small events, produce→deliver
 * latency, and the time to resume after a forced disconnect.
 *
 *   npm run bench:events             full run, writes bench/results/events.json
 *   npm run bench:events -- --smoke  quick check (≤ 10 s), writes bench/results/events.tmp.json
 *
 * Cases:
 * - 1 stream:    one subscription, N events of 64 B of data from a push-API producer that emits
 *                as fast as backpressure allows.
 * - 100 streams: 100 concurrent subscriptions over one connection, N/100 events each.
 * - resume:      a producer emitting one event per ms; the client's socket is destroyed R times;
 *                time from the cut to the next event delivered (reconnect + handshake + OPEN +
 *                start + replay).
 * Latency: each event carries performance.now() at emit (same process, same clock); the delta at
 * delivery to the application goes into an HdrHistogram (µs, 3 significant digits).
 */

import { build, type Histogram } from 'hdr-histogram-js';
import { EventService, subscribeWith, type Subscription } from '../src/api/events.ts';
import { connect, createServer, type ClientConnection, type Connection } from '../src/index.ts';
import { benchArgs, describeMachine, formatNumber, machineInfo, markdownTable, writeResults } from './lib/report.ts';

const { smoke } = benchArgs();
const EVENT_BYTES = 64;

function histogram(): Histogram {
  // Pure-JS histogram (no WebAssembly init needed); values in µs up to 60 s.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

function ms(h: Histogram, p: number): number {
  return h.getValueAtPercentile(p) / 1000;
}

const events = new EventService({ heartbeatMs: 1000, graceMs: 10_000 });
events.handle('fast', async ({ emit, params }) => {
  const n = params['n'] as number;
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(EVENT_BYTES);
    new DataView(data.buffer).setFloat64(0, performance.now());
    await emit('e', data);
  }
  return { n };
});
events.handle('paced', async ({ emit, params, signal }) => {
  const ticks = params['ticks'] as number;
  const perTick = params['perTick'] as number;
  for (let t = 0; t < ticks && !signal.aborted; t++) {
    for (let i = 0; i < perTick; i++) {
      const data = new Uint8Array(EVENT_BYTES);
      new DataView(data.buffer).setFloat64(0, performance.now());
      await emit('e', data);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { ticks };
});
events.handle('steady', async ({ emit, signal }) => {
  while (!signal.aborted) {
    const data = new Uint8Array(EVENT_BYTES);
    new DataView(data.buffer).setFloat64(0, performance.now());
    await emit('e', data);
    await new Promise((r) => setTimeout(r, 1));
  }
});

const server = createServer({ services: [events] });
const { port } = await server.listen(0);

/** One shared connection for many subscriptions; closing a subscription does not close it. */
async function sharedConnection(): Promise<{ connection: Connection; connect: () => Promise<ClientConnection> }> {
  const connection = await connect({ port });
  // A subscription that ends closes its connection: this one is shared, so closing is a no-op.
  const shared: ClientConnection = { open: (o) => connection.open(o), get isOpen() { return connection.isOpen; }, close: () => undefined };
  return { connection, connect: () => Promise.resolve(shared) };
}

async function drain(sub: Subscription, h: Histogram): Promise<number> {
  let n = 0;
  for await (const e of sub) {
    const data = e.data as Uint8Array;
    const sentAt = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0);
    h.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
    n++;
  }
  const o = await sub.outcome;
  if (o.status !== 'done') throw new Error(`subscription ended ${o.status}`);
  return n;
}

interface ThroughputResult {
  readonly streams: number;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** Latency below saturation: every stream emits `perTick` events every ~2 ms for `ticks` ticks. */
async function paced(streams: number, perTick: number, ticks: number): Promise<ThroughputResult & { readonly paced: true }> {
  const { connection, connect: c } = await sharedConnection();
  const h = histogram();
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: streams }, () => drain(subscribeWith(c, 'paced', { params: { perTick, ticks } }), h)));
  const seconds = (performance.now() - started) / 1000;
  connection.close();
  const n = counts.reduce((a, b) => a + b, 0);
  return { paced: true, streams, events: n, seconds, eventsPerSec: n / seconds, latencyMs: { p50: ms(h, 50), p99: ms(h, 99), max: h.maxValue / 1000 } };
}

async function throughput(streams: number, total: number): Promise<ThroughputResult> {
  const { connection, connect: c } = await sharedConnection();
  const h = histogram();
  const perStream = Math.floor(total / streams);
  const started = performance.now();
  const counts = await Promise.all(Array.from({ length: streams }, () => drain(subscribeWith(c, 'fast', { params: { n: perStream } }), h)));
  const seconds = (performance.now() - started) / 1000;
  connection.close();
  const n = counts.reduce((a, b) => a + b, 0);
  return { streams, events: n, seconds, eventsPerSec: n / seconds, latencyMs: { p50: ms(h, 50), p99: ms(h, 99), max: h.maxValue / 1000 } };
}

async function resume(cuts: number): Promise<{ cuts: number; resumeMs: { p50: number; p99: number; max: number }; duplicates: number; gaps: number }> {
  const h = histogram();
  let current: Connection | undefined;
  const sub = subscribeWith(
    async () => {
      current = await connect({ port });
      return current;
    },
    'steady',
    { reconnect: { initialDelayMs: 5, maxDelayMs: 50 } },
  );
  let last = 0;
  let gaps = 0;
  let cutAt: number | undefined;
  let done = 0;
  for await (const e of sub) {
    if (e.id !== last + 1) gaps++;
    last = e.id;
    if (cutAt !== undefined) {
      h.recordValue(Math.max(1, Math.round((performance.now() - cutAt) * 1000)));
      cutAt = undefined;
      done++;
      if (done === cuts) break;
    }
    if (e.id % 20 === 0) {
      cutAt = performance.now();
      current?.destroy();
    }
  }
  return { cuts: done, resumeMs: { p50: ms(h, 50), p99: ms(h, 99), max: h.maxValue / 1000 }, duplicates: sub.stats.duplicates, gaps };
}

const machine = machineInfo();
process.stderr.write(`events bench${smoke ? ' (smoke)' : ''}: ${describeMachine(machine)}\n`);
const total = smoke ? 20_000 : 500_000;
const one = await throughput(1, total);
process.stderr.write(`  1 stream     ${formatNumber(one.eventsPerSec)} events/s\n`);
const hundred = await throughput(100, total);
process.stderr.write(`  100 streams  ${formatNumber(hundred.eventsPerSec)} events/s\n`);
const ticks = smoke ? 150 : 1000;
const pacedOne = await paced(1, 10, ticks);
const pacedHundred = await paced(100, 1, ticks);
process.stderr.write(`  paced        p99 ${pacedOne.latencyMs.p99.toFixed(2)} / ${pacedHundred.latencyMs.p99.toFixed(2)} ms\n`);
const r = await resume(smoke ? 5 : 50);
process.stderr.write(`  resume       p50 ${r.resumeMs.p50.toFixed(2)} ms\n`);
await server.close({ deadlineMs: 100 });

const rows = [one, hundred, pacedOne, pacedHundred].map((t) => [
  `${t.streams}`,
  'paced' in t ? 'paced' : 'saturated',
  formatNumber(t.events),
  formatNumber(t.eventsPerSec),
  t.latencyMs.p50.toFixed(3),
  t.latencyMs.p99.toFixed(3),
]);
console.log(`\n### Event streams, ${EVENT_BYTES} B events over TCP loopback\n`);
console.log(markdownTable(['streams', 'load', 'events', 'events/s', 'p50 ms', 'p99 ms'], rows));
console.log('\nSaturated: producers emit as fast as backpressure allows, so latency is the queue the replay window admits (up to maxEvents = 4096 per stream ahead of the acknowledgement). Paced: each stream emits a few events every ~2 ms, below capacity.');
console.log(`\nResume after a forced disconnect (${r.cuts} cuts): p50 ${r.resumeMs.p50.toFixed(2)} ms, p99 ${r.resumeMs.p99.toFixed(2)} ms, max ${r.resumeMs.max.toFixed(2)} ms; duplicates ${r.duplicates}, gaps ${r.gaps}`);
const path = writeResults('events', smoke, {
  machine,
  eventBytes: EVENT_BYTES,
  histogram: 'hdr-histogram-js 3.0.1 (JS), µs, 3 significant digits',
  throughput: [one, hundred],
  paced: [pacedOne, pacedHundred],
  resume: r,
});
console.log(`\nwritten: ${path}`);
process.exit(0);

/**
 * Event streams over TCP loopback (spec/EVENTS.md): throughput of small events, produce→deliver
 * latency, and the time to resume after a forced disconnect.
 *
 *   npm run bench:events             full run, writes bench/results/events.json
 *   npm run bench:events -- --smoke  quick check (≤ 10 s), writes bench/results/events.tmp.json
 *   npm run bench:events -- --only saturated,redis [--rounds 9] [--events 100000]
 *                                    only those cases (saturated, paced, resume, redis), written to
 *                                    events.tmp.json; --rounds: Redis rounds, --events: saturated events
 *
 * Cases:
 * - 1 stream:    one subscription, N events of 64 B of data from a push-API producer that emits
 *                as fast as backpressure allows.
 * - 100 streams: 100 concurrent subscriptions over one connection, N/100 events each.
 * - resume:      a producer emitting one event per ms; the client's socket is destroyed R times;
 *                time from the cut to the next event delivered (reconnect + handshake + OPEN +
 *                start + replay).
 * - Redis:       the paced latency case again through the replay log in Redis Streams (issue 19,
 *                spec/EVENTS.md §12.13), interleaved round by round with the local log: on the
 *                producer's node (node A, the log mirrored into Redis) and served by another node
 *                (the subscriber moved to node B once, latency counted from events produced after
 *                the move); and the Redis commands both nodes sent per event (counted at the
 *                client: every command is one round trip, pipelined or not); and, in the same
 *                rounds, the floor under them: the same bursts over a bare TCP socket and through
 *                a bare Redis relay (bench/lib/bare-relay.ts), so what one Redis hop costs on the
 *                machine is told apart from what framewire adds. Skipped, loudly, without
 *                redis-server.
 * Latency: each event carries performance.now() at emit (same process, same clock); the delta at
 * delivery to the application goes into an HdrHistogram (µs, 3 significant digits).
 */

import { build, type Histogram } from 'hdr-histogram-js';
import { EventService, subscribeWith, type Subscription } from '../src/api/events.ts';
import { RedisReplayStore } from '../src/events/index.ts';
import { connect, createServer, type ClientConnection, type Connection } from '../src/index.ts';
import { RedisServer, redisServerBinary } from '../test/redis/server.ts';
import { bareRelay } from './lib/bare-relay.ts';
import { benchArgs, describeMachine, flagValue, formatNumber, machineInfo, markdownTable, writeResults } from './lib/report.ts';

const { smoke } = benchArgs();
const CASES = ['saturated', 'paced', 'resume', 'redis'] as const;
const only = flagValue('only')?.split(',');
for (const c of only ?? []) if (!(CASES as readonly string[]).includes(c)) throw new Error(`--only: unknown case ${c} (cases: ${CASES.join(', ')})`);
const runs = (c: (typeof CASES)[number]): boolean => only === undefined || only.includes(c);
const partial = smoke || only !== undefined;
const EVENT_BYTES = 64;

function histogram(): Histogram {
  // Pure-JS histogram (no WebAssembly init needed); values in µs up to 60 s.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

function ms(h: Histogram, p: number): number {
  return h.getValueAtPercentile(p) / 1000;
}

const events = new EventService({ heartbeatMs: 1000, graceMs: 10_000 });
registerPaced(events);
events.handle('fast', async ({ emit, params }) => {
  const n = params['n'] as number;
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(EVENT_BYTES);
    new DataView(data.buffer).setFloat64(0, performance.now());
    await emit('e', data);
  }
  return { n };
});
events.handle('steady', async ({ emit, signal }) => {
  while (!signal.aborted) {
    const data = new Uint8Array(EVENT_BYTES);
    new DataView(data.buffer).setFloat64(0, performance.now());
    await emit('e', data);
    await new Promise((r) => setTimeout(r, 1));
  }
});

/** Emits `perTick` events of EVENT_BYTES every ~2 ms for `ticks` ticks, each stamped with performance.now(). */
function registerPaced(service: EventService): void {
  service.handle('paced', async ({ emit, params, signal }) => {
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
}

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

interface LatencyRow {
  readonly log: string;
  readonly events: number;
  readonly p50: number;
  readonly p99: number;
  /** Redis commands (= round trips) both nodes sent per event. */
  readonly redisPerEvent: number | undefined;
  /** Each round's p99, ms. */
  readonly roundP99: readonly number[];
}

/**
 * A row's latencies over every round together, and each round's p99: the gap to the baseline's
 * p99 in the same round (run next to it) is the robust figure, since one noisy moment of a shared
 * VM moves one round's p99, where it would move the pooled p99 of either row.
 */
class RowLatency {
  readonly all = histogram();
  readonly roundP99: number[] = [];
  events = 0;

  async round(run: (h: Histogram) => Promise<number>): Promise<void> {
    const h = histogram();
    this.events += await run(h);
    this.all.add(h);
    this.roundP99.push(ms(h, 99));
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One paced subscription; latency recorded for events produced after `recordAfter()` (the move, when there is one). */
async function pacedRun(connectFn: () => Promise<ClientConnection>, h: Histogram, ticks: number, onEvent: (id: number, reconnects: number) => void, recordFrom: () => number): Promise<number> {
  const sub = subscribeWith(connectFn, 'paced', { params: { perTick: 10, ticks }, reconnect: { initialDelayMs: 1, maxDelayMs: 20 } });
  let n = 0;
  for await (const e of sub) {
    const data = e.data as Uint8Array;
    const sentAt = new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0);
    if (sentAt >= recordFrom()) h.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
    onEvent(e.id, sub.stats.reconnects);
    n++;
  }
  const o = await sub.outcome;
  if (o.status !== 'done') throw new Error(`subscription ended ${o.status}`);
  return n;
}

const BARE_TCP = 'floor: bare TCP socket, no framewire';
const BARE_REDIS = 'floor: bare Redis relay (EVAL + PUBLISH), no framewire';

/** Paced latency through the local log, the Redis log on the producer's node, and the Redis log served by another node, interleaved. */
async function redisRows(rounds: number, ticks: number): Promise<LatencyRow[] | undefined> {
  if (redisServerBinary === undefined) {
    process.stderr.write('!!! redis-server is not installed: the Redis rows are SKIPPED (apt-get install -y redis-server)\n');
    return undefined;
  }
  const redis = await RedisServer.start();
  const nodes = await Promise.all([0, 1].map(async () => {
    const store = new RedisReplayStore({ redis: redis.url });
    await store.ready;
    const counter = { commands: 0 };
    const client = store.redis;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<typeof send>) => {
      counter.commands++;
      return send(...args);
    });
    const service = new EventService({ store, heartbeatMs: 1000, graceMs: 10_000 });
    registerPaced(service);
    const srv = createServer({ services: [service] });
    const { port: nodePort } = await srv.listen(0);
    return { store, srv, port: nodePort, counter };
  }));
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const commands = (): number => a.counter.commands + b.counter.commands;
  const rows = (): Record<'local' | 'onA' | 'onB' | 'bareTcp' | 'bareRedis', RowLatency> => ({ local: new RowLatency(), onA: new RowLatency(), onB: new RowLatency(), bareTcp: new RowLatency(), bareRedis: new RowLatency() });
  const warmUp = rows();
  const measured = rows();
  const bare = await bareRelay(redis.url);
  const recorded = { cmdA: 0, cmdB: 0 };
  // Round -1 warms every path up before anything is recorded: a long-running daemon's code is
  // compiled, a fresh process's is not, and V8 compiles on background threads that compete with
  // Redis and the event loop for the CPUs (the other-node path measured 110 µs of process CPU
  // per event on its first 10,000 events, 45 once warm).
  for (let round = -1; round < rounds; round++) {
    const { local, onA, onB, bareTcp, bareRedis } = round < 0 ? warmUp : measured;
    const counts = round < 0 ? { cmdA: 0, cmdB: 0 } : recorded;
    const shared = await sharedConnection();
    await local.round((h) => pacedRun(shared.connect, h, ticks, () => undefined, () => 0));
    shared.connection.close();

    let before = commands();
    const toA = await connect({ port: a.port });
    await onA.round((h) => pacedRun(() => Promise.resolve(toA), h, ticks, () => undefined, () => 0));
    counts.cmdA += commands() - before;

    // Started on A, moved to B after 20 events: B serves it from the log while A keeps producing.
    before = commands();
    let first: Connection | undefined;
    let movedAt = Infinity;
    await onB.round((h) => pacedRun(
      async () => {
        if (first === undefined) {
          first = await connect({ port: a.port });
          return first;
        }
        return connect({ port: b.port });
      },
      h,
      ticks,
      (id, reconnects) => {
        if (id === 20) first?.destroy();
        if (reconnects > 0 && movedAt === Infinity) movedAt = performance.now();
      },
      () => movedAt,
    ));
    counts.cmdB += commands() - before;

    await bareTcp.round((h) => bare.tcp(ticks, h));
    await bareRedis.round((h) => bare.redis(ticks, h));
  }
  await bare.close();
  for (const n of nodes) {
    await n.srv.close({ deadlineMs: 100 });
    await n.store.close();
  }
  await redis.destroy();
  const { local, onA, onB, bareTcp, bareRedis } = measured;
  const row = (log: string, r: RowLatency, cmds: number | undefined): LatencyRow => ({ log, events: r.events, p50: ms(r.all, 50), p99: ms(r.all, 99), redisPerEvent: cmds === undefined ? undefined : cmds / r.events, roundP99: r.roundP99 });
  return [row('local (memory)', local, undefined), row('Redis, subscriber on the producer node', onA, recorded.cmdA), row('Redis, subscriber on another node', onB, recorded.cmdB), row(BARE_TCP, bareTcp, undefined), row(BARE_REDIS, bareRedis, bareRedis.events / 10)];
}

const machine = machineInfo();
process.stderr.write(`events bench${smoke ? ' (smoke)' : ''}${only === undefined ? '' : ` (only ${only.join(', ')})`}: ${describeMachine(machine)}\n`);
const total = Number(flagValue('events') ?? (smoke ? 20_000 : 500_000));
const one = runs('saturated') ? await throughput(1, total) : undefined;
if (one !== undefined) process.stderr.write(`  1 stream     ${formatNumber(one.eventsPerSec)} events/s\n`);
const hundred = runs('saturated') ? await throughput(100, total) : undefined;
if (hundred !== undefined) process.stderr.write(`  100 streams  ${formatNumber(hundred.eventsPerSec)} events/s\n`);
const ticks = smoke ? 150 : 1000;
const pacedOne = runs('paced') ? await paced(1, 10, ticks) : undefined;
const pacedHundred = runs('paced') ? await paced(100, 1, ticks) : undefined;
if (pacedOne !== undefined && pacedHundred !== undefined) process.stderr.write(`  paced        p99 ${pacedOne.latencyMs.p99.toFixed(2)} / ${pacedHundred.latencyMs.p99.toFixed(2)} ms\n`);
const r = runs('resume') ? await resume(smoke ? 5 : 50) : undefined;
if (r !== undefined) process.stderr.write(`  resume       p50 ${r.resumeMs.p50.toFixed(2)} ms\n`);
const redisLatency = runs('redis') ? await redisRows(Number(flagValue('rounds') ?? (smoke ? 2 : 5)), smoke ? 100 : 1000) : undefined;
if (redisLatency !== undefined) process.stderr.write(`  redis        p99 ${redisLatency.map((x) => x.p99.toFixed(2)).join(' / ')} ms\n`);
await server.close({ deadlineMs: 100 });

const rows = [one, hundred, pacedOne, pacedHundred].filter((t) => t !== undefined).map((t) => [
  `${t.streams}`,
  'paced' in t ? 'paced' : 'saturated',
  formatNumber(t.events),
  formatNumber(t.eventsPerSec),
  t.latencyMs.p50.toFixed(3),
  t.latencyMs.p99.toFixed(3),
]);
if (rows.length > 0) {
  console.log(`\n### Event streams, ${EVENT_BYTES} B events over TCP loopback\n`);
  console.log(markdownTable(['streams', 'load', 'events', 'events/s', 'p50 ms', 'p99 ms'], rows));
  console.log('\nSaturated: producers emit as fast as backpressure allows, so latency is the queue the replay window admits (up to maxEvents = 4096 per stream ahead of the acknowledgement). Paced: each stream emits a few events every ~2 ms, below capacity.');
}
if (r !== undefined) console.log(`\nResume after a forced disconnect (${r.cuts} cuts): p50 ${r.resumeMs.p50.toFixed(2)} ms, p99 ${r.resumeMs.p99.toFixed(2)} ms, max ${r.resumeMs.max.toFixed(2)} ms; duplicates ${r.duplicates}, gaps ${r.gaps}`);
if (redisLatency !== undefined) {
  console.log(`\n### Paced latency through the replay log in Redis (1 stream, 10 events every ~2 ms), interleaved with the local log\n`);
  const local = redisLatency[0]!;
  const baseline = (x: LatencyRow): LatencyRow => (x.log === BARE_REDIS ? redisLatency.find((y) => y.log === BARE_TCP)! : local);
  const gaps = (x: LatencyRow): number[] => x.roundP99.map((p, i) => p - baseline(x).roundP99[i]!);
  console.log(markdownTable(['log', 'events', 'p50 ms', 'p99 ms', 'p99 − baseline p99 ms', 'same, per round: median (each round)', 'Redis round trips / event'], redisLatency.map((x) => [
    x.log,
    formatNumber(x.events),
    x.p50.toFixed(3),
    x.p99.toFixed(3),
    x.log === BARE_TCP ? '-' : (x.p99 - baseline(x).p99).toFixed(3),
    x.log === BARE_TCP || x === local ? '-' : `${median(gaps(x)).toFixed(3)} (${gaps(x).map((g) => g.toFixed(2)).join(', ')})`,
    x.redisPerEvent === undefined ? '-' : x.redisPerEvent.toFixed(2),
  ])));
  console.log('\nBaseline: the local log for framewire\'s rows; the bare TCP socket for the bare Redis relay, whose gap is what one Redis hop (EVAL that XADDs and PUBLISHes, a subscriber forwarding over TCP) costs on this machine without framewire.');
  console.log('\nTarget (issue 19): p99 through Redis within 2 ms of the local log on loopback. Round trips are the commands both nodes sent (appends are batched and pipelined: one script call for the events appended in one turn of the event loop, which also publishes them in one message; the serving node sends what the tail channel carried, reads with XRANGE only to fill a gap, and forwards acks).');
}
const path = writeResults('events', partial, {
  machine,
  eventBytes: EVENT_BYTES,
  histogram: 'hdr-histogram-js 3.0.1 (JS), µs, 3 significant digits',
  ...(only === undefined ? {} : { only }),
  throughput: [one, hundred].filter((t) => t !== undefined),
  paced: [pacedOne, pacedHundred].filter((t) => t !== undefined),
  resume: r ?? 'not run',
  redis: redisLatency ?? (runs('redis') ? 'skipped: redis-server not installed' : 'not run'),
});
console.log(`\nwritten: ${path}`);
process.exit(0);

/**
 * The shared replay log on Redis Streams (issue 19, spec/EVENTS.md §12.13), with in-process nodes
 * on one real redis-server: the log mirrors the local window exactly (contract); a stream started on
 * node A is resumed on node B with no gap and no duplicate while A's producer keeps appending; the
 * producer's end reaches a subscriber on B; a CANCEL sent to B stops the producer on A (timed);
 * retention gives RESUME_GAP on every node alike; a Redis restart without persistence ends the
 * stream with a coded error and a resume gets NOT_FOUND, never other events.
 *
 * Cost: two redis-servers and a handful of in-process nodes, about 5 s on the loaded 2-core machine.
 */

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProducerContext } from '../../src/api/events.ts';
import { FramewireError } from '../../src/errors.ts';
import { RedisReplayStore } from '../../src/events/redis-replay-store.ts';
import { abortableSleep, closeProxies, collect, expectFwError, Harness, prng, proxyTo, sub, waitFor, within } from '../events/helpers.ts';
import { closeStores, twoEventNodes } from './event-nodes.ts';
import { RedisServer, redisForSuite, redisServerBinary } from './server.ts';

const h = new Harness();
afterEach(async () => {
  await closeProxies();
  await h.cleanup();
  await closeStores();
});

/** Emits `count` events whose data is the id, 1 ms apart now and then, so it is still running when the subscriber moves. */
function counter(count: number, onStop?: (ctx: ProducerContext) => void) {
  return async function* (ctx: ProducerContext) {
    try {
      for (let i = 1; i <= count; i++) {
        yield { type: 'tick', data: { n: i } };
        if (i % 5 === 0) await abortableSleep(1, ctx.signal);
      }
      return { count };
    } finally {
      onStop?.(ctx);
    }
  };
}

/** Emits an event every 2 ms until it is stopped; `onStop` runs in its finally. */
function endlessTicker(onStop: (ctx: ProducerContext) => void) {
  return async function* (ctx: ProducerContext) {
    try {
      for (let i = 1; ; i++) {
        yield { type: 'tick', data: i };
        await abortableSleep(2, ctx.signal);
      }
    } finally {
      onStop(ctx);
    }
  };
}

const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe.skipIf(redisServerBinary === undefined)('events: the replay log shared through Redis Streams', () => {
  const redis = redisForSuite();

  it('FW-EV-20 FW-EV-21 FW-EV-22 contract: the Redis stream holds exactly the window the node retains (count, bytes, age), ids n-0', async () => {
    const store = new RedisReplayStore({ redis: redis.url });
    try {
      await store.ready;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 12 }),
          fc.integer({ min: 64, max: 400 }),
          fc.array(fc.oneof(fc.record({ op: fc.constant('append' as const), size: fc.integer({ min: 1, max: 64 }) }), fc.record({ op: fc.constant('ack' as const), by: fc.integer({ min: 0, max: 5 }) }), fc.record({ op: fc.constant('age' as const) })), { maxLength: 60 }),
          async (maxEvents, maxBytes, ops) => {
            const key = `k${Math.random().toString(36).slice(2)}`;
            const limits = { maxEvents, maxBytes, maxAgeMs: 100 };
            expect((await store.claim('p', 'contract', key, limits, false)).kind).toBe('created');
            const log = store.createLog('contract', key, limits, 'p');
            let now = 0;
            for (const o of ops) {
              if (o.op === 'ack') log.acknowledge(log.ackedId + o.by);
              else if (o.op === 'age') log.trim((now += 150));
              else if (log.hasRoom(o.size, now)) await log.append({ id: log.lastId + 1, type: 't', bytes: new Uint8Array(o.size).fill(log.lastId + 1), at: now });
            }
            // The appends of this turn go to Redis on the next tick (one call); a command after that follows them.
            await new Promise<void>((resolve) => { process.nextTick(resolve); });
            await store.redis.ping();
            const entries = await store.redis.xrangeBuffer(log.keys.log, '-', '+');
            expect(entries.map(([id]) => id.toString())).toEqual(log.read(0, 1000).map((e) => `${e.id}-0`));
            expect(entries.reduce((n, [, f]) => n + (f[3]?.length ?? 0), 0)).toBe(log.bytes);
            expect(Number(await store.redis.hget(log.keys.meta, 'last'))).toBe(log.lastId);
            await log.dispose();
            expect(await store.redis.exists(log.keys.meta, log.keys.log)).toBe(0);
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await store.close();
    }
  });

  it('§12.13 Limits: nodeTtlMs, pollMs and keyTtlMs below 10 (or not integers) are a coded INVALID_ARGUMENT at construction; 10 is accepted', async () => {
    for (const k of ['nodeTtlMs', 'pollMs', 'keyTtlMs'] as const) {
      for (const bad of [9, 10.5, Number.NaN]) {
        expect(() => new RedisReplayStore({ redis: redis.url, [k]: bad })).toThrow(expect.objectContaining({ name: 'FramewireError', code: 'INVALID_ARGUMENT', message: expect.stringContaining(k) as string }));
      }
    }
    const atLimit = new RedisReplayStore({ redis: redis.url, nodeTtlMs: 10, pollMs: 10, keyTtlMs: 10 });
    await atLimit.ready;
    await atLimit.close();
  });

  it('FW-EV-100 FW-EV-24 FW-EV-12: a stream started on node A, cut, is resumed on node B while A keeps producing: no gap, no duplicate, DONE from B, and A drops the instance', async () => {
    const N = 400;
    const [a, b] = await twoEventNodes(h, redis.url, 'count', counter(N));
    const { proxy, port } = await proxyTo(a.port);
    const s = sub(port, 'count');
    const got = await within(collect(s, (e) => {
      if (e.id === 50) proxy.moveTo(b.port);
    }), 20_000, 'collect');
    expect(got.map((e) => e.id)).toEqual(ids(N));
    expect(got.every((e) => (e.data as { n: number }).n === e.id)).toBe(true);
    expect(s.stats.duplicates).toBe(0);
    expect(s.stats.reconnects).toBe(1);
    expect(await s.outcome).toEqual({ status: 'done', summary: { count: N } });
    // B served events A appended after the move (live, not only replayed), and nothing ran on B.
    expect(b.events.counters.delivered).toBeGreaterThan(0);
    expect(b.events.size).toBe(0);
    // The subscriber's DONE, confirmed on B, reached A: the instance is gone there too.
    await waitFor(() => a.events.size === 0, 5000, 'A drops the confirmed instance');
  });

  it('FW-EV-101 FW-EV-13: a producer failure on A ends the subscriber on B with the same coded error, after every event', async () => {
    const producer = async function* ({ signal }: ProducerContext) {
      for (let i = 1; i <= 60; i++) {
        yield { type: 'tick', data: i };
        await abortableSleep(2, signal);
      }
      throw new FramewireError('FORBIDDEN', 'the upstream model refused', { retryable: true, details: { upstream: 'llm' } });
    };
    const [a, b] = await twoEventNodes(h, redis.url, 'fail', producer);
    const { proxy, port } = await proxyTo(a.port);
    const s = sub(port, 'fail');
    const got = await within(collect(s, (e) => {
      if (e.id === 10) proxy.moveTo(b.port);
    }), 20_000, 'collect');
    expect(got.map((e) => e.id)).toEqual(ids(60));
    const outcome = await s.outcome;
    expect(outcome.status).toBe('failed');
    const e = expectFwError(outcome.status === 'failed' ? outcome.error : undefined, 'FORBIDDEN');
    expect([e.message, e.retryable, e.details]).toEqual(['the upstream model refused', true, { upstream: 'llm' }]);
    expect(b.events.counters.delivered + b.events.counters.replayed).toBeGreaterThan(0);
  });

  it('FW-EV-102 FW-EV-14 FW-EV-51: a CANCEL sent to node B stops the producer on node A (its finally runs); timed over 5 runs', async () => {
    const stopped = new Map<string, number>();
    const [a, b] = await twoEventNodes(h, redis.url, 'endless', endlessTicker((ctx) => stopped.set(ctx.key, performance.now())));
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const { proxy, port } = await proxyTo(a.port);
      const s = sub(port, 'endless');
      let cancelledAt = 0;
      const got = await within(collect(s, (e) => {
        if (e.id === 5) proxy.moveTo(b.port);
        // The subscriber resumed on B (it moved at 5; events read ahead from A may still be delivered): cancel there.
        if (cancelledAt === 0 && s.stats.reconnects === 1 && e.id >= 15) {
          cancelledAt = performance.now();
          s.cancel();
        }
      }), 10_000, 'collect');
      expect(got.map((e) => e.id)).toEqual(ids(got.length));
      expect(s.stats.reconnects).toBe(1);
      expect((await s.outcome).status).toBe('cancelled');
      await waitFor(() => stopped.has(s.key), 5000, 'the producer on A stops');
      times.push(stopped.get(s.key)! - cancelledAt);
      await waitFor(() => a.events.size === 0, 5000, 'A drops the cancelled instance');
    }
    expect(b.events.size).toBe(0);
    times.sort((x, y) => x - y);
    const p50 = times[2]!;
    const max = times[4]!;
    console.log(`[redis events] CANCEL on node B -> producer's finally on node A: p50 ${p50.toFixed(2)} ms, max ${max.toFixed(2)} ms over 5 runs`);
    // One PUBLISH from B and A's abort: a few ms on loopback, far below a poll interval.
    expect(max).toBeLessThan(1000);
  });

  it('FW-EV-100 FW-EV-12 FW-EV-30: 6 seeds, 300 events, connections cut at random positions and every reconnect sent to the other node: exactly 1..N', async () => {
    const N = 300;
    const [a, b] = await twoEventNodes(h, redis.url, 'count', counter(N), { replay: { maxEvents: 64 } });
    const results = await within(
      Promise.all(
        Array.from({ length: 6 }, async (_, seed) => {
          const rnd = prng(0xfeed + seed);
          const { proxy, port } = await proxyTo(a.port);
          const cuts = new Set(Array.from({ length: 2 + Math.floor(rnd() * 3) }, () => 1 + Math.floor(rnd() * (N - 1))));
          const s = sub(port, 'count');
          const got = await collect(s, (e) => {
            if (!cuts.has(e.id)) return;
            proxy.moveTo(proxy.targetPort === a.port ? b.port : a.port);
          });
          return { seed, got, outcome: await s.outcome, stats: s.stats };
        }),
      ),
      30_000,
      'cut, move and resume',
    );
    for (const r of results) {
      expect(r.outcome, `seed ${r.seed}`).toEqual({ status: 'done', summary: { count: N } });
      expect(r.got.map((e) => e.id), `seed ${r.seed}`).toEqual(ids(N));
      expect(r.got.every((e) => (e.data as { n: number }).n === e.id)).toBe(true);
      expect(r.stats.duplicates).toBe(0);
    }
    expect(results.reduce((n, r) => n + r.stats.reconnects, 0)).toBeGreaterThanOrEqual(6);
    expect(b.events.size).toBe(0);
  });

  it('FW-EV-100 FW-EV-23 FW-EV-27: past retention both nodes answer RESUME_GAP with the same earliest id; a resume inside it on B supersedes the subscriber on A', async () => {
    const held = async function* ({ signal }: ProducerContext) {
      for (let i = 1; i <= 100; i++) yield { type: 'tick', data: i };
      await abortableSleep(60_000, signal);
    };
    const [a, b] = await twoEventNodes(h, redis.url, 'held', held, { replay: { maxEvents: 10 } });
    const first = sub(a.port, 'held');
    const seen: number[] = [];
    const reading = collect(first, (e) => {
      seen.push(e.id);
    });
    await waitFor(() => seen.length === 100, 10_000, '100 events on A');
    const gaps = [];
    for (const port of [a.port, b.port]) {
      const o = await sub(port, 'held', { from: { key: first.key, after: 5 } }).outcome;
      gaps.push(expectFwError(o.status === 'failed' ? o.error : undefined, 'RESUME_GAP').details);
    }
    expect(gaps[0]).toMatchObject({ key: first.key, last: 100 });
    expect(gaps[1]).toEqual(gaps[0]);
    expect(Number(gaps[0]?.['earliest'])).toBeGreaterThan(6);
    // Inside the window: B replays the rest, and the subscriber on A is superseded (CANCEL).
    const onB = sub(b.port, 'held', { from: { key: first.key, after: 95 } });
    const rest: number[] = [];
    void collect(onB, (e) => {
      rest.push(e.id);
    });
    await waitFor(() => rest.length === 5, 10_000, 'B replays 96..100');
    expect(rest).toEqual([96, 97, 98, 99, 100]);
    await within(reading, 10_000, 'the subscriber on A ends');
    expect((await first.outcome).status).toBe('cancelled');
    onB.cancel();
    await waitFor(() => a.events.size === 0, 5000, 'the cancel from B stops the producer on A');
  });

  it('FW-EV-104: Redis restarted without persistence mid-stream: the subscriber on B gets a coded retryable error, the producer on A stops, a resume gets NOT_FOUND, never other events', async () => {
    const own = await RedisServer.start();
    try {
      let stoppedWith: unknown;
      const [a, b] = await twoEventNodes(h, own.url, 'endless', endlessTicker((ctx) => {
        stoppedWith = ctx.signal.aborted ? 'aborted' : 'ended';
      }));
      const { proxy, port } = await proxyTo(a.port);
      const s = sub(port, 'endless');
      let restarted: Promise<void> | undefined;
      const got = await within(collect(s, (e) => {
        if (e.id === 10) proxy.moveTo(b.port);
        if (restarted === undefined && s.stats.reconnects === 1 && e.id >= 30) restarted = own.restart();
      }), 20_000, 'the subscription ends');
      await restarted;
      expect(got.map((e) => e.id)).toEqual(ids(got.length));
      expect(got.every((e) => e.data === e.id)).toBe(true);
      const outcome = await s.outcome;
      expect(outcome.status).toBe('failed');
      const error = outcome.status === 'failed' ? outcome.error : undefined;
      expect(['PRODUCER_FAILED', 'INTERNAL']).toContain(error?.code);
      expect(error?.retryable).toBe(true);
      await waitFor(() => stoppedWith !== undefined, 10_000, 'the producer on A stops');
      const again = await sub(b.port, 'endless', { from: s.cursor }).outcome;
      expect(expectFwError(again.status === 'failed' ? again.error : undefined, 'NOT_FOUND').details).toMatchObject({ reason: 'unknown_key' });
    } finally {
      await h.cleanup();
      await closeStores();
      await own.destroy();
    }
  });
});

/**
 * The resume that races the mirror append (issue 19, spec/EVENTS.md §12.13, FW-EV-100): node A
 * delivers an event before its pipelined append reaches Redis, so a subscriber that moves to node B
 * at once may resume with `after` beyond the log's last id. B waits (up to pollMs, woken by the
 * append's notification) and serves the rest, instead of a PROTOCOL_ERROR.
 *
 * Deterministic: A reaches Redis through a proxy that holds A's commands while the test says so,
 * and releases them only once B is waiting (B's subscription to the instance's tail channel).
 *
 * Cost: one redis-server and two in-process nodes, under a second.
 */

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProducerContext } from '../../src/api/events.ts';
import { openRedis } from '../../src/redis-connection.ts';
import { collect, FaultProxy, Harness, sleep, sub, within } from '../events/helpers.ts';
import { closeStores, eventNode } from './event-nodes.ts';
import { redisForSuite, redisServerBinary } from './server.ts';

/** A TCP proxy to Redis that, while `held`, keeps its clients' bytes and sends them on `release`. */
class HoldingProxy {
  held = false;
  readonly #queued: { to: net.Socket; bytes: Buffer }[] = [];
  readonly #sockets = new Set<net.Socket>();
  readonly #server: net.Server;

  constructor(target: number) {
    this.#server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: target });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (bytes: Buffer) => {
        if (this.held) this.#queued.push({ to: upstream, bytes });
        else upstream.write(bytes);
      });
      upstream.on('data', (bytes: Buffer) => client.write(bytes));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  release(): void {
    this.held = false;
    for (const q of this.#queued.splice(0)) q.to.write(q.bytes);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}

/** Polls an asynchronous condition every 5 ms, for at most `ms`. */
async function until(condition: () => Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${label}: condition not met within ${ms} ms`);
    await sleep(5);
  }
}

const h = new Harness();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await h.cleanup();
  await closeStores();
  for (const c of closers.splice(0)) await c();
});

describe.skipIf(redisServerBinary === undefined)('events: a resume on another node racing the mirror append', () => {
  const redis = redisForSuite();

  /** Cuts the subscriber at event 5 (appends of 4 and 5 held) to B; releases A's appends when `released` resolves. */
  async function race(bStore: { pollMs: number; nodeTtlMs: number }, released: (tailChannels: () => Promise<number>) => Promise<void>): Promise<{ ids: number[]; outcome: unknown; reconnects: number; key: string; bPort: number; released: Promise<void> }> {
    const toRedis = new HoldingProxy(redis.port);
    const redisPort = await toRedis.listen();
    closers.push(() => toRedis.close());
    let unblock: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    let proceed: () => void = () => undefined;
    const proceeding = new Promise<void>((resolve) => {
      proceed = resolve;
    });
    async function* producer(ctx: ProducerContext): AsyncGenerator<{ type: string; data: { n: number } }, { count: number }> {
      for (let n = 1; n <= 3; n++) yield { type: 'tick', data: { n } };
      await blocked;
      // Appends of 4 and 5 are held on their way to Redis, as if A's pipeline were slow.
      for (let n = 4; n <= 5; n++) yield { type: 'tick', data: { n } };
      await proceeding;
      ctx.signal.throwIfAborted();
      return { count: 5 };
    }
    const watcher = openRedis(redis.url, { connectionName: 'fw-test-watcher' });
    // Each case starts from an empty Redis: the watcher looks for the one instance's keys.
    await watcher.flushall();
    closers.push(async () => {
      watcher.disconnect();
      await Promise.resolve();
    });
    const a = await eventNode(h, `redis://127.0.0.1:${redisPort}`, (e) => e.handle('tick', producer));
    const b = await eventNode(h, redis.url, (e) => e.handle('tick', producer), {}, bStore);
    const clientProxy = new FaultProxy(a.port);
    closers.push(() => clientProxy.close());
    const s = sub(await clientProxy.listen(), 'tick');
    let releasing = Promise.resolve();
    const got = await within(collect(s, async (e) => {
      if (e.id === 3) {
        // Wait until 1..3 are in Redis, then hold A's commands and let the producer go on.
        await until(async () => {
          const [log] = await watcher.keys('fw:ev:*:log');
          return log !== undefined && (await watcher.xlen(log)) === 3;
        }, 5000, 'events 1..3 in Redis');
        toRedis.held = true;
        unblock();
      }
      if (e.id === 5) {
        clientProxy.moveTo(b.port);
        // B waits on the instance's tail channel: now A's appends may reach Redis.
        releasing = released(async () => ((await watcher.pubsub('CHANNELS', 'fw:ev:*:tail')) as string[]).length).catch(() => undefined).finally(() => {
          toRedis.release();
          proceed();
        });
      }
    }), 20_000, 'collect');
    expect(b.events.size).toBe(0);
    return { ids: got.map((e) => e.id), outcome: await s.outcome, reconnects: s.stats.reconnects, key: s.key, bPort: b.port, released: releasing };
  }

  it('FW-EV-100: a subscriber that got event 5 from A before A appended it resumes on B with after=5 and gets the rest, not PROTOCOL_ERROR', async () => {
    // A generous wait on B: A's appends are released as soon as B waits on the tail channel, never by a timer.
    const r = await race({ pollMs: 5000, nodeTtlMs: 15_000 }, (tails) => until(async () => (await tails()) === 1, 5000, 'B waits for the log'));
    expect(r.outcome).toEqual({ status: 'done', summary: { count: 5 } });
    expect(r.ids).toEqual([1, 2, 3, 4, 5]);
    expect(r.reconnects).toBe(1);
  });

  it('FW-EV-100 at the limit: B waits pollMs, then answers TIMEOUT (retryable, log_behind); a new resume with the same after gets the rest', async () => {
    // Released only after B's wait ran out: B subscribed to the tail channel, then let it go.
    const r = await race({ pollMs: 200, nodeTtlMs: 1500 }, async (tails) => {
      await until(async () => (await tails()) === 1, 5000, 'B waits for the log');
      await until(async () => (await tails()) === 0, 5000, 'B gives up after pollMs');
    });
    expect(r.outcome).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', retryable: true, details: { reason: 'log_behind', last: 3 } } });
    expect(r.ids).toEqual([1, 2, 3, 4, 5]);
    await r.released;
    const again = sub(r.bPort, 'tick', { from: { key: r.key, after: 5 } });
    expect(await within(collect(again), 10_000, 'resume again')).toEqual([]);
    expect(await again.outcome).toEqual({ status: 'done', summary: { count: 5 } });
  });
});

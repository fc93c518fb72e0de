/**
 * The producer node's appends, batched (spec/EVENTS.md §12.13): the events appended in one turn of
 * the event loop go to Redis in one script call that XADDs each, trims the stream to what the node
 * retains, and publishes them in one tail message; ids stay contiguous, a trim made while the batch
 * waits rides along, a call Redis refuses fails the node's log with nothing after it appended,
 * APPEND_BATCH_BYTES splits a large burst, APPEND_WINDOW still makes the producer wait.
 *
 * Cost: one redis-server, about a second.
 */

import type { Redis } from 'ioredis';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTail, encodeTailEvents, type TailMessage } from '../../src/events/redis-tail.ts';
import { APPEND_BATCH_BYTES, APPEND_WINDOW, type RedisReplayLog } from '../../src/events/redis-replay-log.ts';
import { RedisReplayStore } from '../../src/events/redis-replay-store.ts';
import type { LoggedEvent, ReplayLimits } from '../../src/events/replay-log.ts';
import { openRedis } from '../../src/redis-connection.ts';
import { RedisServer, redisServerBinary } from './server.ts';

const limits: ReplayLimits = { maxEvents: 100, maxBytes: 1024 * 1024, maxAgeMs: 1000 };

/** The tail message layout of §12.13, written independently of the Lua that publishes it. */
function tailMessage(events: readonly LoggedEvent[]): Buffer {
  const parts: Buffer[] = [Buffer.from('b')];
  for (const e of events) {
    const type = Buffer.from(e.type, 'utf8');
    parts.push(Buffer.from(`${e.id}:${e.at}:${type.length}:${e.bytes.length}:`, 'latin1'), type, Buffer.from(e.bytes));
  }
  return Buffer.concat(parts);
}

async function tick(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.nextTick(resolve);
  });
}

/** Whether the log has failed: it then refuses every call with its coded error. */
function hasFailed(log: RedisReplayLog): boolean {
  try {
    log.hasRoom(8, 0);
    return false;
  } catch {
    return true;
  }
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}

describe('events: the tail channel message (§12.13)', () => {
  it('encodes and decodes what the layout says, for any events and times, and refuses a message cut inside an entry, ids that do not follow on, and the former one-event layout', () => {
    const arbitraryEvents = fc.tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(fc.record({ type: fc.string({ unit: 'grapheme', maxLength: 12 }), bytes: fc.uint8Array({ maxLength: 40 }), at: fc.double({ min: 0, max: 1e12, noNaN: true }) }), { minLength: 1, maxLength: 6 }));
    fc.assert(
      fc.property(arbitraryEvents, ([first, list]) => {
        const events = list.map((e, i) => ({ id: first + i, type: e.type, bytes: Buffer.from(e.bytes), at: e.at }));
        const m = tailMessage(events);
        expect(encodeTailEvents(events)).toEqual(m);
        expect(decodeTail(m)).toEqual({ kind: 'events', events });
        const lastStart = tailMessage(events.slice(0, -1)).length;
        for (let cut = lastStart + 1; cut < m.length; cut++) expect(decodeTail(m.subarray(0, cut))).toBeUndefined();
      }),
      { numRuns: 100 },
    );
    // A time is read back as Number() reads what String() wrote, whatever the double (digits, a point, an exponent, a sign).
    const time = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: 0, max: 1e7, noNaN: true }), fc.integer({ min: 0 }).map((n) => n / 1000));
    fc.assert(
      fc.property(fc.array(time.filter((t) => !Object.is(t, -0)), { minLength: 1, maxLength: 8 }), (times) => {
        const events = times.map((at, i) => ({ id: i + 1, type: 't', bytes: Buffer.alloc(0), at }));
        expect(decodeTail(encodeTailEvents(events))).toEqual({ kind: 'events', events });
      }),
      { numRuns: 300 },
    );
    const e = (id: number): LoggedEvent => ({ id, type: 't', bytes: Buffer.from([id]), at: 1 });
    expect(decodeTail(tailMessage([e(3), e(5)]))).toBeUndefined();
    expect(decodeTail(Buffer.from('b'))).toBeUndefined();
    expect(decodeTail(Buffer.from('7:12.5:1:tx'))).toBeUndefined();
    expect(decodeTail(Buffer.from('e12'))).toEqual({ kind: 'end', last: 12 });
    expect(decodeTail(Buffer.from('e'))).toBeUndefined();
  });
});

describe.skipIf(redisServerBinary === undefined)('events: batched appends to the shared log', () => {
  let server: RedisServer;
  let store: RedisReplayStore;
  let sub: Redis;
  let scriptCalls = 0;
  beforeAll(async () => {
    server = await RedisServer.start();
    store = new RedisReplayStore({ redis: server.url, keyPrefix: 'batch:' });
    await store.ready;
    const client = store.redis;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((...args: Parameters<typeof send>) => {
      const name = args[0].name.toLowerCase();
      if (name === 'evalsha' || name === 'eval') scriptCalls++;
      return send(...args);
    });
    sub = openRedis(server.url);
  }, 30_000);
  afterAll(async () => {
    sub.disconnect();
    await store.close();
    await server.destroy();
  });

  /** A log created for this node, and what its tail channel carries. */
  async function producerLog(key: string, l: ReplayLimits = limits): Promise<{ log: RedisReplayLog; heard: TailMessage[] }> {
    expect((await store.claim('p', 'batch', key, l, false)).kind).toBe('created');
    const log = store.createLog('batch', key, l, 'p');
    const heard: TailMessage[] = [];
    await sub.subscribe(log.keys.tail);
    sub.on('messageBuffer', (channel: Buffer, m: Buffer) => {
      const t = channel.toString() === log.keys.tail ? decodeTail(m) : undefined;
      if (t !== undefined) heard.push(t);
    });
    return { log, heard };
  }

  /** The next event, appended within the window: the producer would not wait. */
  function append(log: RedisReplayLog, size = 8): void {
    expect(appendMayWait(log, size)).toBeUndefined();
  }

  function appendMayWait(log: RedisReplayLog, size = 8): void | Promise<void> {
    const id = log.lastId + 1;
    expect(log.hasRoom(size, 0)).toBe(true);
    return log.append({ id, type: 'tick', bytes: new Uint8Array(size).fill(id % 256), at: 0 });
  }

  const streamIds = async (log: RedisReplayLog): Promise<string[]> => (await store.redis.xrangeBuffer(log.keys.log, '-', '+')).map(([id]) => id.toString());
  const hash = async (log: RedisReplayLog): Promise<{ last: number; first: number }> => {
    const [last, first] = await store.redis.hmget(log.keys.meta, 'last', 'first');
    return { last: Number(last), first: Number(first) };
  };

  it('a burst appended in one turn is one script call and one tail message carrying every event, in order', async () => {
    const { log, heard } = await producerLog('burst');
    const before = scriptCalls;
    for (let i = 0; i < 10; i++) append(log);
    expect(scriptCalls - before).toBe(0); // sent at the end of the turn
    await tick();
    expect(scriptCalls - before).toBe(1);
    await until(() => heard.length === 1);
    expect(heard[0]).toEqual({ kind: 'events', events: log.read(0, 100).map((e) => ({ ...e, bytes: Buffer.from(e.bytes) })) });
    expect(await streamIds(log)).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}-0`));
    expect(await hash(log)).toEqual({ last: 10, first: 1 });
    await log.dispose();
  });

  it('a batch across a trim: the stream keeps what the node keeps, and a trim made while the batch waits rides on its call', async () => {
    const { log, heard } = await producerLog('trim', { maxEvents: 3, maxBytes: 1024, maxAgeMs: 1000 });
    for (let i = 0; i < 3; i++) append(log);
    await tick();
    await until(() => heard.length === 1);
    const before = scriptCalls;
    log.acknowledge(3);
    append(log); // drops 1
    append(log); // drops 2
    log.acknowledge(5);
    append(log); // drops 3
    append(log); // drops 4
    append(log); // drops 5
    log.acknowledge(7);
    log.trim(5000); // age: drops 6 and 7, while the batch waits
    expect(log.firstId).toBe(8);
    await tick();
    await until(() => heard.length === 2);
    expect(scriptCalls - before).toBe(1);
    expect(heard[1]).toEqual({ kind: 'events', events: [4, 5, 6, 7, 8].map((id) => expect.objectContaining({ id }) as LoggedEvent) });
    expect(await streamIds(log)).toEqual(['8-0']);
    expect(await hash(log)).toEqual({ last: 8, first: 8 });
    await log.dispose();
  });

  it('a pipeline that fails halfway: Redis refuses the second of three calls in flight (OOM), the third is refused too (not the next id) although Redis accepts writes again, the stream holds exactly the first, and the producer\'s next append fails with the coded error', async () => {
    const { log, heard } = await producerLog('halfway');
    for (let i = 0; i < 3; i++) append(log);
    await tick();
    for (let i = 0; i < 3; i++) append(log); // 4..6: refused, Redis is out of memory when it runs them
    const oom = store.redis.config('SET', 'maxmemory', '1');
    await tick();
    const recovered = store.redis.config('SET', 'maxmemory', '0');
    for (let i = 0; i < 2; i++) append(log); // 7, 8: sent before Redis answered the others
    await tick();
    await Promise.all([oom, recovered]);
    await until(() => hasFailed(log));
    expect(() => { append(log); }).toThrow(expect.objectContaining({ code: 'INTERNAL', message: expect.stringContaining('OOM') as string }));
    expect(await streamIds(log)).toEqual(['1-0', '2-0', '3-0']);
    expect(await hash(log)).toEqual({ last: 3, first: 1 });
    await store.redis.ping();
    expect(heard.map((t) => (t.kind === 'events' ? t.events.map((e) => e.id) : []))).toEqual([[1, 2, 3]]);
    await log.dispose();
  });

  it('a batch refused whole (the instance was taken over): nothing of it is appended or published', async () => {
    const { log, heard } = await producerLog('taken');
    append(log);
    await tick();
    await until(() => heard.length === 1);
    await store.redis.hset(log.keys.meta, 'node', 'another');
    for (let i = 0; i < 4; i++) append(log);
    await tick();
    await until(() => hasFailed(log));
    expect(() => { append(log); }).toThrow(expect.objectContaining({ code: 'PRODUCER_FAILED', message: expect.stringContaining('taken over') as string }));
    expect(await streamIds(log)).toEqual(['1-0']);
    expect(await hash(log)).toEqual({ last: 1, first: 1 });
    expect(heard).toHaveLength(1);
  });

  it(`§12.13 Limits: a call carries at most APPEND_BATCH_BYTES (${APPEND_BATCH_BYTES}) of events; a burst beyond goes in several calls, in order`, async () => {
    const { log, heard } = await producerLog('bytes', { maxEvents: 100, maxBytes: 4 * APPEND_BATCH_BYTES, maxAgeMs: 1000 });
    const quarter = APPEND_BATCH_BYTES / 4;
    const before = scriptCalls;
    for (let i = 0; i < 4; i++) append(log, quarter); // exactly the limit: one call
    await tick();
    expect(scriptCalls - before).toBe(1);
    for (let i = 0; i < 5; i++) append(log, quarter); // one more than fits
    append(log, APPEND_BATCH_BYTES + 1); // larger than the limit: alone
    await tick();
    expect(scriptCalls - before).toBe(4);
    await until(() => heard.length === 4);
    expect(heard.map((t) => (t.kind === 'events' ? t.events.map((e) => e.id) : []))).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9], [10]]);
    // What the tail carried and the stream holds are the appended bytes (compared whole: an element-wise diff of a MiB is slow).
    const appended = log.read(0, 100);
    const same = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => a !== undefined && b !== undefined && Buffer.compare(a, b) === 0;
    const tail = heard.flatMap((t) => (t.kind === 'events' ? t.events : []));
    expect(tail.map((e) => e.id)).toEqual(appended.map((e) => e.id));
    expect(tail.every((e, i) => e.type === 'tick' && same(e.bytes, appended[i]?.bytes))).toBe(true);
    const stream = await store.redis.xrangeBuffer(log.keys.log, '-', '+');
    expect(stream.map(([id]) => id.toString())).toEqual(appended.map((e) => `${e.id}-0`));
    expect(stream.every(([, f], i) => same(f[3], appended[i]?.bytes))).toBe(true);
    await log.dispose();
  });

  it(`APPEND_WINDOW: the append that makes ${APPEND_WINDOW + 1} unconfirmed returns a promise, settled once Redis confirmed its batch`, async () => {
    const { log } = await producerLog('window', { maxEvents: 1000, maxBytes: 1024 * 1024, maxAgeMs: 1000 });
    for (let i = 0; i < APPEND_WINDOW; i++) append(log);
    const waits = appendMayWait(log);
    expect(waits).toBeInstanceOf(Promise);
    await waits;
    expect(await hash(log)).toEqual({ last: APPEND_WINDOW + 1, first: 1 });
    append(log);
    await log.dispose();
  });
});

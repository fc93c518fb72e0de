/**
 * The live tail of a subscriber served by another node (spec/EVENTS.md §12.13): the append script
 * publishes the events themselves, the serving node's view of the log hands the next events to the
 * writer without reading Redis, and reads the stream (XRANGE) only to fill what the tail channel
 * did not carry in order — a lost message, or one that arrived while a read was in flight — so
 * the subscriber gets every id once, in order.
 *
 * Cost: one redis-server, well under a second.
 */

import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../../src/events/notifier.ts';
import { instanceKeys, scripts } from '../../src/events/redis-log-scripts.ts';
import { decodeTail, encodeTailEvents, type TailMessage } from '../../src/events/redis-tail.ts';
import { FollowerLog, type FollowContext } from '../../src/events/remote-attachment.ts';
import type { LoggedEvent } from '../../src/events/replay-log.ts';
import { openRedis } from '../../src/redis-connection.ts';
import { redisForSuite, redisServerBinary } from './server.ts';

describe.skipIf(redisServerBinary === undefined)('events: the live tail from another node', () => {
  const server = redisForSuite();
  let redis: Redis;
  let sub: Redis;
  beforeAll(() => {
    redis = openRedis(server.url);
    sub = openRedis(server.url);
  });
  afterAll(() => {
    redis.disconnect();
    sub.disconnect();
  });

  it('the append script publishes the events of its call as the log holds them, in one message; a message of the end is read too', async () => {
    const keys = instanceKeys('t1:', 'p', 'name', 'k');
    await redis.hset(keys.meta, 'node', 'A', 'last', 0, 'first', 1, 'ended', 0);
    const heard: TailMessage[] = [];
    await sub.subscribe(keys.tail);
    sub.on('messageBuffer', (_channel: Buffer, m: Buffer) => {
      const t = decodeTail(m);
      if (t !== undefined) heard.push(t);
    });
    const bytes = Buffer.from([0, 0x3a, 0xff, 0x3a, 7]);
    const second = Buffer.from('b:1:2:');
    const events = [{ id: 1, type: 'tick:ü', bytes, at: 12.5 }, { id: 2, type: '', bytes: second, at: 13 }];
    expect(await scripts.append.run(redis, [keys.meta, keys.log], ['A', 60_000, keys.tail, 1, encodeTailEvents(events)])).toBe(1);
    await waitUntil(() => heard.length === 1);
    expect(heard[0]).toEqual({ kind: 'events', events });
    // The stream holds the entries the script read out of the one argument, byte for byte.
    const entries = await redis.xrangeBuffer(keys.log, '-', '+');
    expect(entries.map(([id, f]) => [id.toString(), ...f.map((x) => x.toString('latin1'))])).toEqual([
      ['1-0', 't', Buffer.from('tick:ü').toString('latin1'), 'b', bytes.toString('latin1'), 'at', '12.5'],
      ['2-0', 't', '', 'b', 'b:1:2:', 'at', '13'],
    ]);
    expect(await redis.hmget(keys.meta, 'last', 'first')).toEqual(['2', '1']);
    expect(decodeTail(Buffer.from('e41'))).toEqual({ kind: 'end', last: 41 });
    expect(decodeTail(Buffer.from('17'))).toBeUndefined();
    await sub.unsubscribe(keys.tail);
  });

  it('the append script refuses an events argument that is not in the layout, whole: nothing appended, counted or published', async () => {
    const keys = instanceKeys('t3:', 'p', 'name', 'k');
    await redis.hset(keys.meta, 'node', 'A', 'last', 0, 'first', 1, 'ended', 0);
    let published = 0;
    await sub.subscribe(keys.tail);
    const count = (channel: Buffer): void => {
      if (channel.toString() === keys.tail) published++;
    };
    sub.on('messageBuffer', count);
    const append = (events: Buffer | string): Promise<unknown> => scripts.append.run(redis, [keys.meta, keys.log], ['A', 60_000, keys.tail, 1, events]);
    const good = encodeTailEvents([{ id: 1, type: 't', bytes: Buffer.from('x:y'), at: 5 }]);
    const malformed = [
      '', // no event
      'b',
      'x1:5:1:3:tx:y', // not the tail layout
      Buffer.concat([good, Buffer.from('2:5:1:3:tx:')]), // a second event cut short: the first is not appended either
      'b1:5:1:4:tx:y', // its bytes run past the end
      'b1:5:1:3', // a field without its colon
      'b1:5:a:3:tx:y', // a length that is not digits
      'b1:5:-1:3:tx:y',
      'b01:5:1:3:tx:y', // an id with a leading zero: not how an id is written
      'b1.0:5:1:3:tx:y',
      'b:5:1:3:tx:y',
    ];
    for (const events of malformed) expect(await append(events), String(events)).toBe(-3);
    expect(await redis.xlen(keys.log)).toBe(0);
    expect(await redis.hmget(keys.meta, 'last', 'first')).toEqual(['0', '1']);
    // The same call in the layout is appended; one that does not follow on is still -2.
    expect(await append(good)).toBe(1);
    expect(await append(good)).toBe(-2);
    expect(await redis.xlen(keys.log)).toBe(1);
    await waitUntil(() => published === 1);
    sub.off('messageBuffer', count);
    await sub.unsubscribe(keys.tail);
  });

  it('FW-EV-100: pushed events that follow on are read without a round trip; a lost or early message is filled from the stream, no gap, no duplicate', async () => {
    const keys = instanceKeys('t2:', 'p', 'name', 'k');
    const events = Array.from({ length: 8 }, (_, i) => event(i + 1));
    for (const e of events) await redis.xadd(keys.log, `${e.id}-0`, 't', e.type, 'b', Buffer.from(e.bytes), 'at', e.at);
    let xranges = 0;
    const counted = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'xrangeBuffer') xranges++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const failures: unknown[] = [];
    const context = { redis: counted, keys, owner: 'A', send: () => undefined } as unknown as FollowContext;
    const log = new FollowerLog(context, new Notifier(), 'token', { first: 1, last: 0, ended: false }, 0, (e) => failures.push(e));
    const idsOf = async (r: readonly LoggedEvent[] | Promise<readonly LoggedEvent[]>): Promise<number[]> => (await r).map((e) => e.id);

    log.pushed(events[0]!);
    log.pushed(events[1]!);
    log.pushed(events[3]!); // 3 was lost: 4 does not follow on
    expect(log.lastId).toBe(4);
    const first = log.read(0, 256);
    expect(first).not.toBeInstanceOf(Promise);
    expect(await idsOf(first)).toEqual([1, 2]);
    expect(xranges).toBe(0);

    expect(await idsOf(log.read(2, 256))).toEqual([3, 4, 5, 6, 7, 8]); // the gap, filled from the stream
    expect(xranges).toBe(1);
    log.pushed(events[4]!); // arrived after the read that returned it: not twice
    log.pushed(events[7]!);
    expect(await idsOf(log.read(8, 256))).toEqual([]);
    expect(xranges).toBe(2);

    // A message that arrives while a read is in flight: the read returns it, the push is dropped.
    const next = event(9);
    await redis.xadd(keys.log, '9-0', 't', next.type, 'b', Buffer.from(next.bytes), 'at', next.at);
    const inFlight = log.read(8, 256);
    log.pushed(next);
    expect(await idsOf(inFlight)).toEqual([9]);
    expect(await idsOf(log.read(9, 256))).toEqual([]);
    log.pushed(event(10));
    expect(await idsOf(log.read(9, 256))).toEqual([10]);
    expect(xranges).toBe(4);
    expect(failures).toEqual([]);
  });
});

function event(id: number): LoggedEvent {
  return { id, type: 'tick', bytes: new Uint8Array([id, 0x3a, id]), at: id };
}

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}

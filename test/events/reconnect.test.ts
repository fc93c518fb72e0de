/**
 * The subscriber's resume logic on a manual clock (spec/EVENTS.md FW-EV-90, PROTOCOL.md FW-ERR-4):
 * client and server joined in memory, one clock for the sessions, the event service and the
 * subscriber, so every backoff, hint and bound is checked to the millisecond with no sleep.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, subscribeWith, type DeliveredEvent, type Subscription } from '../../src/api/events.ts';
import { FramewireError, type StreamService } from '../../src/index.ts';
import { ManualClock } from '../../src/session/index.ts';
import { advance, MemoryNetwork, until } from '../integration/memory-network.ts';

const networks: MemoryNetwork[] = [];
afterEach(() => {
  for (const n of networks.splice(0)) n.close();
});

/** A stream of 6 events whose second half waits for `release()`. */
function gatedCount(options: ConstructorParameters<typeof EventService>[0]): { events: EventService; release: () => void } {
  const events = new EventService(options);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  events.handle('count', async ({ emit }) => {
    for (let i = 1; i <= 3; i++) await emit('n', i);
    await gate;
    for (let i = 4; i <= 6; i++) await emit('n', i);
    return { count: 6 };
  });
  return { events, release };
}

function setup(services: (events: EventService) => readonly StreamService[] = (e) => [e], graceMs?: number) {
  const clock = new ManualClock();
  const { events, release } = gatedCount({ clock, ...(graceMs === undefined ? {} : { graceMs }) });
  const net = new MemoryNetwork({ clock, services: services(events) });
  networks.push(net);
  return { clock, events, release, net };
}

/** Reads `n` events. */
async function take(it: AsyncIterator<DeliveredEvent>, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(((await it.next()).value as DeliveredEvent).id);
  return ids;
}

const lost = (message: string): FramewireError => new FramewireError('CONNECTION_LOST', message);

async function failedWith(s: Subscription): Promise<FramewireError> {
  const o = await s.outcome;
  if (o.status !== 'failed') throw new Error(`expected failed, got ${o.status}`);
  return o.error;
}

describe('subscriber: resume on a manual clock', () => {
  it('FW-EV-90: a started stream that is cut is resumed at once; failed attempts then back off 25–50 ms, doubling; no gap, no duplicate', async () => {
    const { clock, release, net } = setup();
    const s = subscribeWith(net.connect, 'count', { clock, reconnect: { initialDelayMs: 50, maxDelayMs: 2000, maxAttempts: 10 } });
    const it = s[Symbol.asyncIterator]();
    expect(await take(it, 3)).toEqual([1, 2, 3]);
    const rest = take(it, 3);
    net.refuse(lost('refused 1'), lost('refused 2'));
    const cutAt = clock.now();
    net.cut();
    // The first attempt goes at once: the clock has not moved.
    await until(() => net.attempts === 2, 'the immediate attempt');
    expect(clock.now()).toBe(cutAt);
    await advance(clock, 200, 1);
    expect(net.attempts).toBe(4);
    const [, first, second, third] = net.attemptsAt as [number, number, number, number];
    expect(first).toBe(cutAt);
    // After failed attempt 1: 25–50 ms; after failed attempt 2: 50–100 ms.
    expect(second - first).toBeGreaterThanOrEqual(25);
    expect(second - first).toBeLessThanOrEqual(50);
    expect(third - second).toBeGreaterThanOrEqual(50);
    expect(third - second).toBeLessThanOrEqual(100);
    await until(() => s.stats.reconnects === 1, 'resumed');
    release();
    expect(await rest).toEqual([4, 5, 6]);
    expect((await it.next()).done).toBe(true);
    expect(await s.outcome).toEqual({ status: 'done', summary: { count: 6 } });
    expect(s.stats).toEqual({ delivered: 6, duplicates: 0, reconnects: 1 });
  });

  it('FW-EV-90: after maxAttempts failed attempts it fails with the code of the loss that began the episode and says what the last attempt met', async () => {
    const { clock, net } = setup();
    const s = subscribeWith(net.connect, 'count', { clock, reconnect: { initialDelayMs: 50, maxDelayMs: 2000, maxAttempts: 3 } });
    const it = s[Symbol.asyncIterator]();
    expect(await take(it, 3)).toEqual([1, 2, 3]);
    const next = it.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    net.refuse(...[1, 2, 3, 4].map(() => new FramewireError('TIMEOUT', 'connect timed out')));
    net.cut();
    await advance(clock, 500);
    expect(String(await next)).toMatch(/event stream lost after 3 attempt\(s\) in \d+ ms: .*; last attempt: connect timed out/);
    const error = await failedWith(s);
    expect(error.code).toBe('CONNECTION_LOST');
    expect(error.details).toEqual({ key: s.key, after: 3 });
    // 1 first connection + 3 failed attempts; the fourth refusal was never asked for.
    expect(net.attempts).toBe(4);
  });

  it('FW-EV-71 FW-ERR-4: a LIMIT_EXCEEDED refusal is waited out for its retry_after_ms on the live connection', async () => {
    let refusals = 1;
    let opens = 0;
    const { clock, release, net } = setup((events) => [
      {
        kinds: events.kinds,
        handle: (stream, session) => {
          opens++;
          if (refusals-- > 0) stream.fail('LIMIT_EXCEEDED', 'busy', { retryAfterMs: 1000 });
          else events.handle(stream, session);
        },
      },
    ]);
    const s = subscribeWith(net.connect, 'count', { clock });
    // The refusal reached the subscriber: it has no stream on the wire.
    await until(() => opens === 1 && s.stream === undefined, 'the refused open');
    await advance(clock, 999, 1);
    expect(opens).toBe(1);
    clock.advance(1);
    await until(() => opens === 2, 'the open after retry_after_ms');
    release();
    const ids: number[] = [];
    for await (const e of s) ids.push(e.id);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
    // A refusal is about the stream: the connection stayed and carried the retry.
    expect(net.attempts).toBe(1);
  });

  it('FW-EV-14: cancel during the backoff ends the subscription at once; no attempt follows', async () => {
    const { clock, net } = setup();
    const s = subscribeWith(net.connect, 'count', { clock, reconnect: { initialDelayMs: 1000, maxDelayMs: 1000, maxAttempts: 10 } });
    const it = s[Symbol.asyncIterator]();
    await take(it, 3);
    net.refuse(lost('refused'));
    net.cut();
    await until(() => net.attempts === 2, 'the refused attempt');
    s.cancel('the user left');
    const o = await s.outcome;
    expect(o.status).toBe('cancelled');
    await advance(clock, 5000, 500);
    expect(net.attempts).toBe(2);
  });

  it('FW-EV-90: never later than the grace period after the loss: the episode ends on time, not on attempts', async () => {
    const { clock, net } = setup(undefined, 500);
    const s = subscribeWith(net.connect, 'count', { clock, reconnect: { initialDelayMs: 100, maxDelayMs: 100, maxAttempts: 1000 } });
    await take(s[Symbol.asyncIterator](), 3);
    net.refuse(...Array.from({ length: 100 }, (_, i) => lost(`refused ${i + 1}`)));
    net.cut();
    await advance(clock, 1000);
    const error = await failedWith(s);
    expect(error.code).toBe('CONNECTION_LOST');
    const [, attempts, ms] = /after (\d+) attempt\(s\) in (\d+) ms/.exec(error.message) ?? [];
    // Waits of 50–100 ms: past 500 ms after a handful of attempts, well short of 1000.
    expect(Number(ms)).toBeGreaterThan(500);
    expect(Number(ms)).toBeLessThanOrEqual(600);
    expect(Number(attempts)).toBeGreaterThanOrEqual(5);
    expect(Number(attempts)).toBeLessThanOrEqual(12);
  });
});

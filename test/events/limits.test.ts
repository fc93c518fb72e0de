/**
 * FW-LIMIT-5 in aggregate for event streams (spec/EVENTS.md FW-EV-71): instances bounded per
 * connection, per principal and server-wide; replay bytes bounded per principal and server-wide,
 * with producers that pause (never drop an unacknowledged event) when their log or the budget is
 * full and nobody reads; LIMIT_EXCEEDED with retry_after_ms and details {limit} at each limit.
 * Attackers here are subscriptions opened with zero credit (the server cannot even send `start`)
 * or opened and dropped. Client and server in memory on one manual clock: "nothing happened" is
 * checked after the clock moved and frames crossed, never after a sleep.
 */

import { describe, expect, it } from 'vitest';
import { EventService, EVENT_OVERHEAD_BYTES, subscribeWith, type EventServiceOptions, type Subscription } from '../../src/api/events.ts';
import type { Connection, Stream } from '../../src/index.ts';
import { encodeEvent } from '../../src/events/protocol.ts';
import { ManualClock } from '../../src/session/index.ts';
import { advance, until, type MemoryNetwork } from '../integration/memory-network.ts';
import { collect, expectFwError, memoryNetworks, onClock, within } from './helpers.ts';

const network = memoryNetworks();

const PAYLOAD = new Uint8Array(100).fill(7);
/** What one logged event of the firehose costs in the budget. */
const COST = encodeEvent(1000, 'blob', PAYLOAD).length + EVENT_OVERHEAD_BYTES;

interface Setup {
  readonly events: EventService;
  readonly net: MemoryNetwork;
  readonly clock: ManualClock;
  readonly emitted: Map<string, number>;
}

/** A service whose `firehose` emits as fast as the log takes events, counting them; principals are the credentials. */
function server(options: EventServiceOptions): Setup {
  const clock = new ManualClock();
  const events = new EventService({ ...options, clock });
  const emitted = new Map<string, number>();
  events.handle('firehose', async ({ emit, key }) => {
    for (let i = 0; i < 1_000_000; i++) {
      await emit('blob', PAYLOAD);
      emitted.set(key, i + 1);
    }
  });
  const net = network({ clock, services: [events], server: { authenticate: (c) => (typeof c === 'string' ? { id: c } : false) } });
  return { events, net, clock, emitted };
}

/** A client that grants no credit at all: the server cannot send it anything, not even `start`. */
function zeroCredit({ net }: Setup, who: string): Promise<Connection> {
  return net.connectWith({ auth: who, settings: { initialStreamCredit: 0 } });
}

/** A subscriber of `who`, reading and acknowledging. */
function subscriber({ net, clock }: Setup, name: string, who?: string): Subscription {
  return subscribeWith((signal) => net.connectWith(who === undefined ? {} : { auth: who }, signal), name, { clock });
}

function open(conn: Connection, key: string): Stream {
  return conn.open({ kind: 'events.subscribe', target: 'firehose', meta: { key } });
}

async function refusedWith(stream: Stream, limit: string): Promise<void> {
  const o = await within(stream.outcome, 5000, `refusal (${limit})`);
  const e = expectFwError(o.status === 'failed' ? o.error : undefined, 'LIMIT_EXCEEDED');
  expect(e.retryAfterMs).toBe(1000);
  expect(e.details).toEqual({ limit });
}

/** Waits until nothing is emitted while the clock moves 25 ms and frames cross: every producer paused. */
async function quiescent({ emitted, clock }: Setup): Promise<void> {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const now = [...emitted.values()].reduce((a, b) => a + b, 0);
    if (now === last) return;
    last = now;
    await advance(clock, 25, 5);
  }
  throw new Error('producers never paused');
}

describe('events: aggregate limits', () => {
  it('FW-EV-71: subscriptions per connection, at the limit; a second connection of the principal is not affected', async () => {
    const setup = server({ limits: { maxSubscriptionsPerConnection: 2 } });
    const c1 = await zeroCredit(setup, 'mallory');
    open(c1, 'a');
    open(c1, 'b');
    await refusedWith(open(c1, 'c'), 'maxSubscriptionsPerConnection');
    const c2 = await zeroCredit(setup, 'mallory');
    const fine = open(c2, 'c');
    await advance(setup.clock, 50, 5);
    expect(fine.ended).toBe(false);
  });

  it('FW-EV-71: instances per principal and in total, at the limit; cancelling one frees its slot', async () => {
    const setup = server({ limits: { maxInstancesPerPrincipal: 3, maxInstances: 5 } });
    const { events } = setup;
    const m = await zeroCredit(setup, 'mallory');
    const streams = ['a', 'b', 'c'].map((k) => open(m, k));
    await refusedWith(open(m, 'd'), 'maxInstancesPerPrincipal');
    const b = await zeroCredit(setup, 'bob');
    open(b, 'a');
    open(b, 'b');
    await refusedWith(open(b, 'c'), 'maxInstances');
    expect(events.size).toBe(5);
    // A client CANCEL drops the instance at once (FW-EV-14): room again.
    streams[0]!.cancel('done with it');
    await until(() => events.instancesOf('id:mallory') === 2, 'instance dropped');
    const again = open(m, 'd');
    await advance(setup.clock, 50, 5);
    expect(again.ended).toBe(false);
  });

  it('FW-EV-21 FW-EV-71: zero-credit and dropped subscriptions: each producer pauses at its log limit, all together at the replay budget, and nothing is dropped', async () => {
    const maxEvents = 200;
    // Room for two full logs and a half.
    const budget = Math.floor(2.5 * maxEvents * COST);
    const setup = server({ replay: { maxEvents, maxBytes: 1024 * 1024 }, limits: { maxReplayBytes: budget, maxReplayBytesPerPrincipal: 10 * budget } });
    const { events, emitted } = setup;
    const m = await zeroCredit(setup, 'mallory');
    open(m, 'zero-1');
    open(m, 'zero-2');
    // Opened and dropped: the instance waits out its grace period, producing meanwhile.
    const d = await zeroCredit(setup, 'mallory');
    open(d, 'dropped');
    await until(() => events.size === 3, 'the dropped subscription\'s instance exists');
    d.destroy();
    await quiescent(setup);
    // Full: the next event would not fit (COST is the largest an event of the run costs).
    expect(events.budget.used()).toBeLessThanOrEqual(budget);
    expect(events.budget.used() + COST).toBeGreaterThan(budget);
    for (const key of ['zero-1', 'zero-2', 'dropped']) {
      const r = events.instance('firehose', key, 'id:mallory')!.retained;
      // Nothing acknowledged, nothing dropped: the log holds every id the producer got.
      expect(r.firstId).toBe(1);
      expect(r.events).toBe(emitted.get(key));
      expect(r.events).toBeLessThanOrEqual(maxEvents);
    }
    expect(events.budget.used()).toBeLessThanOrEqual(budget);
    // A new instance cannot log anything: refused, not queued.
    await refusedWith(open(await zeroCredit(setup, 'mallory'), 'one-more'), 'maxReplayBytes');
    // Room comes back when an instance goes: the paused producers go on, up to the budget again.
    events.cancel('firehose', 'zero-1', 'operator', 'id:mallory');
    await quiescent(setup);
    expect(events.budget.used()).toBeLessThanOrEqual(budget);
    expect(events.budget.used()).toBeGreaterThan(budget - 2 * COST);
  });

  it('FW-EV-71: one principal\'s replay bytes are bounded below the server\'s: another principal still subscribes and receives', async () => {
    const maxEvents = 200;
    const perPrincipal = Math.floor(1.5 * maxEvents * COST);
    const setup = server({ replay: { maxEvents, maxBytes: 1024 * 1024 }, limits: { maxReplayBytes: 10 * perPrincipal, maxReplayBytesPerPrincipal: perPrincipal } });
    const { events } = setup;
    const m = await zeroCredit(setup, 'mallory');
    for (const k of ['a', 'b', 'c']) open(m, k);
    await quiescent(setup);
    expect(events.budget.used('id:mallory')).toBeLessThanOrEqual(perPrincipal);
    await refusedWith(open(m, 'd'), 'maxReplayBytesPerPrincipal');
    // Alice reads and acknowledges: her events flow.
    const s = subscriber(setup, 'firehose', 'alice');
    const it = s[Symbol.asyncIterator]();
    for (let i = 1; i <= 1000; i++) expect((await onClock(setup.clock, it.next(), `alice's event ${i}`)).value).toMatchObject({ id: i });
    s.cancel();
  });

  it('FW-EV-22 FW-EV-71: a subscriber that keeps up is never held back by its own acknowledged history, however small the budget', async () => {
    // The log alone would keep 64 events (acknowledged every 16); the budget allows 40.
    const clock = new ManualClock();
    const events = new EventService({ clock, replay: { maxEvents: 64 }, limits: { maxReplayBytes: 40 * COST, maxReplayBytesPerPrincipal: 40 * COST } });
    events.handle('count', async ({ emit }) => {
      for (let i = 0; i < 2000; i++) await emit('blob', PAYLOAD);
      return { n: 2000 };
    });
    const net = network({ clock, services: [events] });
    const s = subscribeWith(net.connect, 'count', { clock });
    const got = await onClock(clock, collect(s), 'collect');
    expect(got.map((e) => e.id)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(await s.outcome).toEqual({ status: 'done', summary: { n: 2000 } });
  });

  it('FW-EV-90 FW-EV-71: a refused subscriber waits retry_after_ms and tries again; it gets in once there is room', async () => {
    const setup = server({ limits: { maxInstances: 1, retryAfterMs: 100 } });
    const { events } = setup;
    const m = await zeroCredit(setup, 'mallory');
    const hog = open(m, 'hog');
    const s = subscriber(setup, 'firehose', 'alice');
    await advance(setup.clock, 250, 5);
    expect(events.size).toBe(1);
    expect(s.stats.delivered).toBe(0);
    hog.cancel();
    const it = s[Symbol.asyncIterator]();
    expect((await onClock(setup.clock, it.next(), 'alice gets in')).value).toMatchObject({ id: 1 });
    s.cancel();
  });
});

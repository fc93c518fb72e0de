/**
 * Producers that really stop, ends that are exactly one outcome, heartbeats and timeouts
 * (spec/EVENTS.md §12.4, §12.7, §12.10). Client and server run in memory on one manual clock, so
 * no test waits on a sleep; over real TCP loopback only the refusals (an unknown name, a malformed
 * key, credentials refused at the handshake and counted at a proxy).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, subscribeWith, type Subscription } from '../../src/api/events.ts';
import { FramewireError } from '../../src/index.ts';
import { ManualClock, wait } from '../../src/session/index.ts';
import { advance, until, type MemoryNetwork } from '../integration/memory-network.ts';
import { captureLogs, collect, closeProxies, expectFwError, Harness, memoryNetworks, onClock, proxyTo, sub, within } from './helpers.ts';

const h = new Harness();
const network = memoryNetworks();
afterEach(async () => {
  await closeProxies();
  await h.cleanup();
});

/** Client and server in memory, on `clock`. */
function memory(clock: ManualClock, events: EventService, client: ConstructorParameters<typeof MemoryNetwork>[0]['client'] = {}): MemoryNetwork {
  return network({ clock, services: [events], client });
}

/** A producer that counts its work (a tick every 2 ms of `clock`) and records when its finally ran. */
function probe(clock: { now(): number } & Parameters<typeof wait>[0]) {
  const state = { work: 0, finallyAt: undefined as number | undefined, reason: undefined as unknown };
  const producer = async function* ({ signal }: { signal: AbortSignal }) {
    try {
      for (;;) {
        state.work++;
        yield { type: 'tick', data: state.work };
        await wait(clock, 2, signal);
      }
    } finally {
      state.finallyAt = clock.now();
      state.reason = signal.reason;
    }
  };
  return { state, producer };
}

/** Reads `s` to its end while the clock runs in 2 ms steps; `stop()` (called from `onEvent`) stops the clock. */
async function collectTicking(clock: ManualClock, s: Subscription, onEvent: (id: number, stop: () => void) => void): Promise<void> {
  let ticking = true;
  const stop = (): void => {
    ticking = false;
  };
  const reading = collect(s, (e) => {
    onEvent(e.id, stop);
  });
  while (ticking) await advance(clock, 2, 2);
  await reading;
}

describe('events: lifecycle', () => {
  it('FW-EV-14 FW-EV-51: client cancel stops the producer (its finally runs, no more work) within a bounded time', async () => {
    const clock = new ManualClock();
    const events = new EventService({ clock });
    const { state, producer } = probe(clock);
    events.handle('ticks', producer);
    const net = memory(clock, events);
    const s = subscribeWith(net.connect, 'ticks', { clock });
    let cancelledAt = 0;
    await collectTicking(clock, s, (id, stop) => {
      if (id === 20) {
        cancelledAt = clock.now();
        stop();
        s.cancel('user closed the tab');
      }
    });
    // The cancel travels in event-loop turns: no time passes on the clock.
    await until(() => state.finallyAt !== undefined, 'producer finally');
    expect(state.finallyAt! - cancelledAt).toBe(0);
    expect((await s.outcome).status).toBe('cancelled');
    expect(expectFwError(state.reason, 'CANCELLED').remote).toBe(true);
    const work = state.work;
    // A producer still running would tick 500 times in a second.
    await advance(clock, 1000, 100);
    expect(state.work).toBe(work);
    expect(events.size).toBe(0);
  });

  it('FW-EV-50 FW-EV-51: a subscriber that disconnects and does not resume stops the producer after the grace period, not before', async () => {
    const clock = new ManualClock();
    const events = new EventService({ graceMs: 300, clock });
    const { state, producer } = probe(clock);
    events.handle('ticks', producer);
    const net = memory(clock, events);
    const s = subscribeWith(net.connect, 'ticks', { clock, reconnect: false });
    let cutAt = 0;
    await collectTicking(clock, s, (id, stop) => {
      if (id === 5) {
        cutAt = clock.now();
        stop();
        net.cut();
      }
    });
    expectFwError((await s.outcome).status === 'failed' ? ((await s.outcome) as { error: unknown }).error : undefined, 'CONNECTION_LOST');
    // The server noticed the loss (its grace period starts now, the clock still at the cut).
    await until(() => events.instance('ticks', s.key)?.attached === false, 'the server sees the subscriber gone');
    expect(clock.now()).toBe(cutAt);
    await advance(clock, 299, 1);
    expect(state.finallyAt).toBeUndefined();
    expect(events.size).toBe(1);
    await advance(clock, 1, 1);
    await until(() => state.finallyAt !== undefined, 'producer stopped after grace');
    const afterMs = state.finallyAt! - cutAt;
    console.log(`[events] disconnect -> producer finally after ${afterMs} ms of the clock (graceMs 300)`);
    expect(afterMs).toBe(300);
    expect(expectFwError(state.reason, 'TIMEOUT').message).toMatch(/grace|resumed within/);
    expect(events.size).toBe(0);
    const work = state.work;
    await advance(clock, 1000, 100);
    expect(state.work).toBe(work);
  });

  it('FW-EV-13: a producer that throws ends the stream with PRODUCER_FAILED (retryable) after every earlier event was delivered; a thrown FramewireError keeps its code and retryable flag', async () => {
    const clock = new ManualClock();
    const events = new EventService({ clock });
    events.handle('boom', async function* () {
      for (let i = 1; i <= 5; i++) yield { type: 'n', data: i };
      await wait(clock, 1);
      throw new Error('disk on fire');
    });
    events.handle('denied', async ({ emit }) => {
      await emit('n', 1);
      throw new FramewireError('FORBIDDEN', 'no access to this feed', { retryable: true, details: { feed: 'x' } });
    });
    const net = memory(clock, events);
    const a = subscribeWith(net.connect, 'boom', { clock });
    expect((await onClock(clock, collect(a), 'boom')).map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    const ae = expectFwError(((await a.outcome) as { error: unknown }).error, 'PRODUCER_FAILED');
    expect(ae.retryable).toBe(true);
    expect(ae.message).toContain('disk on fire');
    const b = subscribeWith(net.connect, 'denied', { clock });
    expect((await onClock(clock, collect(b), 'denied')).length).toBe(1);
    const be = expectFwError(((await b.outcome) as { error: unknown }).error, 'FORBIDDEN');
    expect(be.retryable).toBe(true);
    expect(be.details).toEqual({ feed: 'x' });
  });

  it('FW-EV-14: a server-side cancel ends the subscription as cancelled and stops the producer', async () => {
    const clock = new ManualClock();
    const events = new EventService({ clock });
    const { state, producer } = probe(clock);
    events.handle('ticks', producer);
    const net = memory(clock, events);
    const s = subscribeWith(net.connect, 'ticks', { clock });
    await collectTicking(clock, s, (id, stop) => {
      if (id === 3) {
        stop();
        events.cancel('ticks', s.key, 'maintenance');
      }
    });
    const o = await s.outcome;
    expect(o.status).toBe('cancelled');
    expect(o.status === 'cancelled' ? o.error.message : '').toContain('maintenance');
    await until(() => state.finallyAt !== undefined, 'producer finally');
  });

  it('FW-EV-2: an unknown stream name fails with NOT_FOUND; a malformed key with MALFORMED_PAYLOAD', async () => {
    const events = new EventService();
    const { port } = await h.server({ services: [events] });
    const a = sub(port, 'nope');
    expectFwError(((await within(a.outcome, 5000, 'a')) as { error: unknown }).error, 'NOT_FOUND');
    const client = await h.client({ port });
    const stream = client.open({ kind: 'events.subscribe', target: 'nope', meta: { key: 'has spaces' } });
    const o = await within(stream.outcome, 5000, 'raw');
    expectFwError(o.status === 'failed' ? o.error : undefined, 'MALFORMED_PAYLOAD');
  });

  it('FW-EV-6: a producer\'s params check refuses a new instance before start: its code and details travel, the producer never runs, no instance is kept', async () => {
    const events = new EventService();
    let runs = 0;
    events.handle('checked', async ({ emit }) => {
      runs++;
      await emit('x');
    }, {
      checkParams: (params) => {
        if (params['n'] === -1) throw new FramewireError('MALFORMED_PAYLOAD', 'n must be >= 0', { details: { param: 'n' } });
        if (params['n'] === 'forbidden') throw new FramewireError('FORBIDDEN', 'not for you');
        if (params['n'] === 'plain') throw new Error('a plain error');
      },
    });
    const { port } = await h.server({ services: [events] });
    const refused = async (n: unknown): Promise<FramewireError> => {
      const s = sub(port, 'checked', { params: { n }, reconnect: false });
      const o = await within(s.outcome, 5000, `n ${String(n)}`);
      expect(o.status).toBe('failed');
      return (o as { error: FramewireError }).error;
    };
    const bad = await refused(-1);
    expectFwError(bad, 'MALFORMED_PAYLOAD');
    expect(bad.details).toEqual({ param: 'n' });
    expect(bad.remote).toBe(true);
    expectFwError(await refused('forbidden'), 'FORBIDDEN');
    expectFwError(await refused('plain'), 'MALFORMED_PAYLOAD');
    expect(runs).toBe(0);
    expect(events.size).toBe(0);
    const ok = sub(port, 'checked', { params: { n: 1 } });
    expect((await within(collect(ok), 5000, 'ok')).map((e) => e.type)).toEqual(['x']);
    expect(runs).toBe(1);
  });

  it('FW-EV-40 FW-EV-41: heartbeats keep an idle stream alive; when the server stops answering the client ends with TIMEOUT, not a hang', async () => {
    const clock = new ManualClock();
    const events = new EventService({ heartbeatMs: 40, clock });
    events.handle('idle', async ({ emit, signal }) => {
      await emit('hello', 'world');
      await wait(clock, 60_000, signal).catch(() => undefined);
    });
    const net = memory(clock, events, { limits: { handshakeTimeoutMs: 300 } });
    const s = subscribeWith(net.connect, 'idle', { clock, heartbeatTimeoutMs: 200, reconnect: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 } });
    const it = s[Symbol.asyncIterator]();
    expect((await within(it.next(), 5000, 'first event')).value).toMatchObject({ id: 1, type: 'hello', data: 'world' });
    const next = it.next().then(
      () => undefined,
      (error: unknown) => error,
    );
    // Idle for 5 heartbeat timeouts: heartbeats keep it alive.
    await advance(clock, 1000, 10);
    expect(s.stats.reconnects).toBe(0);
    expect(net.attempts).toBe(1);
    // The server stops answering: nothing flows either way, new connections hang in the handshake.
    net.silent = true;
    const started = clock.now();
    const end = { reached: false };
    void s.outcome.then(() => (end.reached = true));
    // The timeout (200 ms) and three handshakes of 300 ms with short waits: the end comes in about 1.1 s.
    for (let i = 0; i < 300 && !end.reached; i++) await advance(clock, 10, 10);
    expect(String(await next)).toMatch(/no event or heartbeat/);
    const o = await s.outcome;
    const elapsed = clock.now() - started;
    console.log(`[events] server silent -> client outcome ${o.status === 'failed' ? o.error.code : o.status} after ${elapsed} ms of the clock`);
    expectFwError(o.status === 'failed' ? o.error : undefined, 'TIMEOUT');
    expect(net.attempts).toBe(4);
    expect(elapsed).toBeGreaterThanOrEqual(200 + 3 * 300);
    expect(elapsed).toBeLessThan(200 + 3 * 300 + 100);
  });

  it('FW-EV-90 FW-ERR-4: refused credentials end the subscription at once with AUTH_FAILED: a new connection would present them again', async () => {
    const events = new EventService();
    events.handle('any', async ({ emit }) => {
      await emit('n', 1);
    });
    const { port: serverPort } = await h.server({ services: [events], authenticate: () => false });
    const { proxy, port } = await proxyTo(serverPort);
    const s = sub(port, 'any', { auth: { token: 'wrong' } });
    const o = await within(s.outcome, 5000, 'outcome');
    expectFwError(o.status === 'failed' ? o.error : undefined, 'AUTH_FAILED');
    expect(proxy.accepted).toBe(1);
  });

  it('FW-EV-80: every log line of an instance carries its request key', async () => {
    const clock = new ManualClock();
    const { logger, lines } = captureLogs();
    const events = new EventService({ logger, clock });
    events.handle('boom', async function* () {
      yield { type: 'n', data: 1 };
      await wait(clock, 1);
      throw new Error('x');
    });
    const net = network({ clock, services: [events], server: { logger } });
    const s = subscribeWith(net.connect, 'boom', { clock, key: 'req-42' });
    await onClock(clock, collect(s), 'boom');
    const mine = lines.filter((l) => l['events'] === 'boom' || l['request'] !== undefined);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((l) => l['request'] === 'req-42')).toBe(true);
    expect(lines.some((l) => l['msg'] === 'producer failed' && l['request'] === 'req-42')).toBe(true);
  });
});

/**
 * Producers that really stop, ends that are exactly one outcome, heartbeats and timeouts, over
 * real TCP loopback (spec/EVENTS.md §12.4, §12.7, §12.10).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, FramewireError } from '../../src/index.ts';
import { abortableSleep, captureLogs, collect, expectFwError, FaultProxy, Harness, sleep, sub, waitFor, within } from './helpers.ts';

const h = new Harness();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
});

async function proxied(port: number): Promise<{ proxy: FaultProxy; port: number }> {
  const proxy = new FaultProxy(port);
  proxies.push(proxy);
  return { proxy, port: await proxy.listen() };
}

/** A producer that counts its work and records when its finally ran. */
function probe() {
  const state = { work: 0, finallyAt: undefined as number | undefined, reason: undefined as unknown };
  const producer = async function* ({ signal }: { signal: AbortSignal }) {
    try {
      for (;;) {
        state.work++;
        yield { type: 'tick', data: state.work };
        await abortableSleep(2, signal);
      }
    } finally {
      state.finallyAt = performance.now();
      state.reason = signal.reason;
    }
  };
  return { state, producer };
}

describe('events: lifecycle', () => {
  it('FW-EV-14 FW-EV-51: client cancel stops the producer (its finally runs, no more work) within a bounded time', async () => {
    const events = new EventService();
    const { state, producer } = probe();
    events.handle('ticks', producer);
    const { port } = await h.server({ services: [events] });
    const s = sub(port, 'ticks');
    let cancelledAt = 0;
    await collect(s, (e) => {
      if (e.id === 20) {
        cancelledAt = performance.now();
        s.cancel('user closed the tab');
      }
    });
    await waitFor(() => state.finallyAt !== undefined, 2000, 'producer finally');
    const stopMs = state.finallyAt! - cancelledAt;
    console.log(`[events] client cancel -> producer finally: ${stopMs.toFixed(2)} ms`);
    expect(stopMs).toBeLessThan(1000);
    expect((await s.outcome).status).toBe('cancelled');
    expect(expectFwError(state.reason, 'CANCELLED').remote).toBe(true);
    const work = state.work;
    await sleep(50);
    expect(state.work).toBe(work);
    expect(events.size).toBe(0);
  });

  it('FW-EV-50 FW-EV-51: a subscriber that disconnects and does not resume stops the producer after the grace period, not before', async () => {
    const events = new EventService({ graceMs: 300 });
    const { state, producer } = probe();
    events.handle('ticks', producer);
    const { port: serverPort } = await h.server({ services: [events] });
    const { proxy, port } = await proxied(serverPort);
    const s = sub(port, 'ticks', { reconnect: false });
    let cutAt = 0;
    await collect(s, (e) => {
      if (e.id === 5) {
        cutAt = performance.now();
        proxy.cut();
      }
    });
    expectFwError((await s.outcome).status === 'failed' ? ((await s.outcome) as { error: unknown }).error : undefined, 'CONNECTION_LOST');
    await sleep(150);
    expect(state.finallyAt).toBeUndefined();
    expect(events.size).toBe(1);
    await waitFor(() => state.finallyAt !== undefined, 3000, 'producer stopped after grace');
    const afterMs = state.finallyAt! - cutAt;
    console.log(`[events] disconnect -> producer finally after ${afterMs.toFixed(0)} ms (graceMs 300)`);
    expect(afterMs).toBeGreaterThanOrEqual(250);
    expect(expectFwError(state.reason, 'TIMEOUT').message).toMatch(/grace|resumed within/);
    expect(events.size).toBe(0);
    const work = state.work;
    await sleep(50);
    expect(state.work).toBe(work);
  });

  it('FW-EV-13: a producer that throws ends the stream with PRODUCER_FAILED (retryable) after every earlier event was delivered; a thrown FramewireError keeps its code and retryable flag', async () => {
    const events = new EventService();
    events.handle('boom', async function* () {
      for (let i = 1; i <= 5; i++) yield { type: 'n', data: i };
      await sleep(1);
      throw new Error('disk on fire');
    });
    events.handle('denied', async ({ emit }) => {
      await emit('n', 1);
      throw new FramewireError('FORBIDDEN', 'no access to this feed', { retryable: true, details: { feed: 'x' } });
    });
    const { port } = await h.server({ services: [events] });
    const a = sub(port, 'boom');
    expect((await within(collect(a), 5000, 'boom')).map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    const ae = expectFwError(((await a.outcome) as { error: unknown }).error, 'PRODUCER_FAILED');
    expect(ae.retryable).toBe(true);
    expect(ae.message).toContain('disk on fire');
    const b = sub(port, 'denied');
    expect((await within(collect(b), 5000, 'denied')).length).toBe(1);
    const be = expectFwError(((await b.outcome) as { error: unknown }).error, 'FORBIDDEN');
    expect(be.retryable).toBe(true);
    expect(be.details).toEqual({ feed: 'x' });
  });

  it('FW-EV-14: a server-side cancel ends the subscription as cancelled and stops the producer', async () => {
    const events = new EventService();
    const { state, producer } = probe();
    events.handle('ticks', producer);
    const { port } = await h.server({ services: [events] });
    const s = sub(port, 'ticks');
    await collect(s, (e) => {
      if (e.id === 3) events.cancel('ticks', s.key, 'maintenance');
    });
    const o = await s.outcome;
    expect(o.status).toBe('cancelled');
    expect(o.status === 'cancelled' ? o.error.message : '').toContain('maintenance');
    await waitFor(() => state.finallyAt !== undefined, 2000, 'producer finally');
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

  it('FW-EV-40 FW-EV-41: heartbeats keep an idle stream alive; when the server stops answering the client ends with TIMEOUT, not a hang', async () => {
    const events = new EventService({ heartbeatMs: 40 });
    events.handle('idle', async ({ emit, signal }) => {
      await emit('hello', 'world');
      await abortableSleep(60_000, signal);
    });
    const { port: serverPort } = await h.server({ services: [events] });
    const { proxy, port } = await proxied(serverPort);
    const s = sub(port, 'idle', { heartbeatTimeoutMs: 200, connectTimeoutMs: 300, limits: { handshakeTimeoutMs: 300 }, reconnect: { initialDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 } });
    const it = s[Symbol.asyncIterator]();
    expect((await within(it.next(), 5000, 'first event')).value).toMatchObject({ id: 1, type: 'hello', data: 'world' });
    const next = it.next();
    // Idle for 5 heartbeat timeouts: heartbeats keep it alive.
    await sleep(1000);
    expect(s.stats.reconnects).toBe(0);
    // The server stops answering: nothing flows either way, new connections hang in the handshake.
    proxy.blackhole = true;
    const started = performance.now();
    await expect(within(next, 5000, 'next after blackhole')).rejects.toThrow(/no event or heartbeat/);
    const o = await s.outcome;
    console.log(`[events] server silent -> client outcome ${o.status === 'failed' ? o.error.code : o.status} after ${Math.round(performance.now() - started)} ms`);
    expectFwError(o.status === 'failed' ? o.error : undefined, 'TIMEOUT');
  });

  it('FW-EV-90 FW-ERR-4: refused credentials end the subscription at once with AUTH_FAILED: a new connection would present them again', async () => {
    const events = new EventService();
    events.handle('any', async ({ emit }) => {
      await emit('n', 1);
    });
    const { port: serverPort } = await h.server({ services: [events], authenticate: () => false });
    const { proxy, port } = await proxied(serverPort);
    const s = sub(port, 'any', { auth: { token: 'wrong' } });
    const o = await within(s.outcome, 5000, 'outcome');
    expectFwError(o.status === 'failed' ? o.error : undefined, 'AUTH_FAILED');
    expect(proxy.accepted).toBe(1);
  });

  it('FW-EV-80: every log line of an instance carries its request key', async () => {
    const { logger, lines } = captureLogs();
    const events = new EventService({ logger });
    events.handle('boom', async function* () {
      yield { type: 'n', data: 1 };
      await sleep(1);
      throw new Error('x');
    });
    const { port } = await h.server({ services: [events], logger });
    const s = sub(port, 'boom', { key: 'req-42' });
    await collect(s);
    const mine = lines.filter((l) => l['events'] === 'boom' || l['request'] !== undefined);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((l) => l['request'] === 'req-42')).toBe(true);
    expect(lines.some((l) => l['msg'] === 'producer failed' && l['request'] === 'req-42')).toBe(true);
  });
});

/**
 * A stalled connection is noticed at heartbeat scale (spec/EVENTS.md FW-EV-40, FW-EV-41): on one
 * manual clock shared by the server's instance and the subscriber, heartbeats every hb_ms keep an
 * idle subscription attached; once the connection stops carrying anything (a proxy swallows every
 * byte, the sockets stay open, as after a flipped length field), the subscriber resumes on a new
 * connection 1.5 × hb_ms after the last thing it received — not at the idle timeout.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { connect, EventService, subscribeWith, type Connection, type DeliveredEvent } from '../../src/index.ts';
import { ManualClock } from '../../src/session/index.ts';
import { FaultProxy, Harness, sleep, waitFor, within } from './helpers.ts';

const h = new Harness();
const proxies: FaultProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
});

const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('events: stall detection', () => {
  it('FW-EV-40 FW-EV-41: heartbeats keep an idle subscription; silence resumes it after 1.5 × hb_ms', async () => {
    const clock = new ManualClock();
    const HB = 1000;
    const events = new EventService({ heartbeatMs: HB, clock });
    let release!: () => void;
    const second = new Promise<void>((resolve) => {
      release = resolve;
    });
    events.handle('slow', async ({ emit }) => {
      await emit('first', 1);
      await second;
      await emit('second', 2);
    });
    const { port } = await h.server({ services: [events] });
    const proxy = new FaultProxy(port);
    proxies.push(proxy);
    const proxyPort = await proxy.listen();
    let connects = 0;
    const conns: Connection[] = [];
    /** The manual clock stands still while frames cross loopback: wait until one more arrived and was read. */
    const received = async (label: string): Promise<void> => {
      const c = conns.at(-1)!;
      const before = c.session.stats.framesIn;
      await waitFor(() => c.session.stats.framesIn > before, 5000, label);
      await turns();
    };
    // The first connection through the proxy (to be silenced), later ones straight to the server.
    const s = subscribeWith(async (signal) => {
      const c = h.track(await connect({ port: connects++ === 0 ? proxyPort : port, signal, connectTimeoutMs: 2000 }));
      conns.push(c);
      return c;
    }, 'slow', {
      clock,
      reconnect: { initialDelayMs: 10, maxDelayMs: 10, maxAttempts: 5 },
    });
    const it = s[Symbol.asyncIterator]();
    const first = await within(it.next(), 5000, 'first event');
    expect((first.value as DeliveredEvent).id).toBe(1);
    const pending = it.next();
    // Ten heartbeat intervals of idleness: each one brings an hb, nothing times out.
    for (let i = 0; i < 10; i++) {
      clock.advance(HB);
      await received(`heartbeat ${i + 1}`);
    }
    expect(s.stats.reconnects).toBe(0);
    expect(connects).toBe(1);
    // The connection goes silent, both ways, sockets open.
    proxy.blackhole = true;
    clock.advance(HB); // the server's hb is swallowed
    clock.advance(HB / 2 - 1); // 1.5 × hb after the last heartbeat received, less 1 ms
    await sleep(50);
    expect(connects).toBe(1);
    clock.advance(1);
    // On the manual clock, at once: not after any real-time timeout (the idle timeout, or 3 × hb).
    await waitFor(() => connects === 2, 2000, 'reconnect after the heartbeat timeout');
    // The resume's backoff runs on the same clock.
    for (let i = 0; i < 100 && s.stats.reconnects === 0; i++) {
      clock.advance(10);
      await sleep(10);
    }
    expect(s.stats.reconnects).toBe(1);
    release();
    const next = await within(pending, 5000, 'the event after the resume');
    expect((next.value as DeliveredEvent).id).toBe(2);
    s.cancel();
  });
});

/**
 * A stalled connection is noticed at heartbeat scale (spec/EVENTS.md FW-EV-40, FW-EV-41): on one
 * manual clock shared by the server's instance, both sessions and the subscriber, heartbeats every
 * hb_ms keep an idle subscription attached; once the connection stops carrying anything (every
 * byte swallowed, both ends open, as after a flipped length field), the subscriber resumes on a
 * new connection 1.5 × hb_ms after the last thing it received — not at the idle timeout.
 * Client and server run in memory: frames cross in event-loop turns, no time passes meanwhile.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService, subscribeWith, type DeliveredEvent } from '../../src/api/events.ts';
import { ManualClock } from '../../src/session/index.ts';
import { MemoryNetwork, turn, until } from '../integration/memory-network.ts';
import { within } from './helpers.ts';

const networks: MemoryNetwork[] = [];
afterEach(() => {
  for (const n of networks.splice(0)) n.close();
});

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
    const net = new MemoryNetwork({ clock, services: [events] });
    networks.push(net);
    /** The manual clock stands still while frames cross: wait until one more arrived and was read. */
    const received = async (label: string): Promise<void> => {
      const c = net.clients.at(-1)!;
      const before = c.session.stats.framesIn;
      await until(() => c.session.stats.framesIn > before, label);
      for (let i = 0; i < 5; i++) await turn();
    };
    const s = subscribeWith(net.connect, 'slow', {
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
    expect(net.attempts).toBe(1);
    // The connection goes silent, both ways, both ends open.
    net.silence();
    clock.advance(HB); // the server's hb is swallowed
    clock.advance(HB / 2 - 1); // 1.5 × hb after the last heartbeat received, less 1 ms
    for (let i = 0; i < 50; i++) await turn();
    expect(net.attempts).toBe(1);
    clock.advance(1);
    // On the manual clock, at once: not after any real-time timeout (the idle timeout, or 3 × hb).
    await until(() => net.attempts === 2, 'reconnect after the heartbeat timeout');
    // A stream that had started is resumed at once (FW-EV-90): no backoff to wait out.
    await until(() => s.stats.reconnects === 1, 'resumed');
    release();
    const next = await within(pending, 5000, 'the event after the resume');
    expect((next.value as DeliveredEvent).id).toBe(2);
    s.cancel();
  });
});

/**
 * The event instance's lifecycle as its state (src/events/instance.ts): every state an instance
 * passes through in one subscription that is lost, resumed and ended, on a manual clock in memory.
 */

import { describe, expect, it } from 'vitest';
import { EventService, subscribeWith } from '../../src/api/events.ts';
import { ManualClock } from '../../src/session/index.ts';
import { advance, until } from '../integration/memory-network.ts';
import { collect, memoryNetworks } from './helpers.ts';

const network = memoryNetworks();

describe('event instance state', () => {
  it('attached → detached on a loss → attached on a resume → end-sent when DONE goes out → gone once the subscriber confirms it', async () => {
    const clock = new ManualClock();
    const events = new EventService({ clock, graceMs: 1000, heartbeatMs: 0 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    events.handle('feed', async ({ emit }) => {
      for (let i = 1; i <= 3; i++) await emit('n', i);
      await held;
      return { count: 3 };
    });
    const net = network({ clock, services: [events] });
    const first = subscribeWith(net.connect, 'feed', { clock, reconnect: false });
    const it = first[Symbol.asyncIterator]();
    for (let id = 1; id <= 3; id++) expect((await it.next()).value).toMatchObject({ id });
    const instance = events.instance('feed', first.key);
    expect(instance?.state).toBe('attached');

    net.cut();
    await until(() => instance?.state === 'detached', 'the server sees the loss');
    expect((await first.outcome).status).toBe('failed');
    // Within the grace period: still there, still waiting.
    await advance(clock, 999, 111);
    expect(instance?.state).toBe('detached');

    const resumed = subscribeWith(net.connect, 'feed', { clock, from: { key: first.key, after: 3 } });
    await until(() => instance?.state === 'attached', 'the resume attaches');
    // The grace timer of the detached state stopped with it.
    await advance(clock, 100, 10);
    expect(instance?.state).toBe('attached');

    release();
    // DONE is sent; the application has not read it, so the subscriber has not confirmed it yet.
    await until(() => instance?.state === 'end-sent', 'DONE sent');
    expect(events.size).toBe(1);
    expect(await collect(resumed)).toEqual([]);
    expect(await resumed.outcome).toEqual({ status: 'done', summary: { count: 3 } });
    await until(() => events.size === 0, 'the confirmed instance is dropped');
    expect(instance?.state).toBe('disposed');
  });
});

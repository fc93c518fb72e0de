/**
 * Slow consumers (spec/EVENTS.md §12.6, §12.8): bounded server memory under a consumer that barely
 * reads, and coalescing instead of blocking. Client and server in memory on one manual clock: the
 * consumer's slowness, the producer's pauses and the coalescing interval are time on that clock.
 */

import { describe, expect, it } from 'vitest';
import { EventService, subscribeWith, type DeliveredEvent } from '../../src/api/events.ts';
import { ManualClock, wait } from '../../src/session/index.ts';
import { advance, until } from '../integration/memory-network.ts';
import { collect, memoryNetworks, onClock } from './helpers.ts';

const network = memoryNetworks();

describe('events: slow consumers', () => {
  it('FW-EV-21 FW-EV-70: a slow consumer does not grow server memory beyond the configured bounds; the producer waits', async () => {
    const maxEvents = 64;
    const maxBytes = 16 * 1024;
    const writeBuffer = 32 * 1024;
    const clock = new ManualClock();
    const events = new EventService({ clock, replay: { maxEvents, maxBytes } });
    let emitted = 0;
    const payload = new Uint8Array(200).fill(7);
    events.handle('firehose', async ({ emit }) => {
      for (let i = 0; i < 100_000; i++) {
        await emit('blob', payload);
        emitted++;
      }
    });
    const net = network({ clock, services: [events], server: { limits: { streamWriteBuffer: writeBuffer } }, client: { settings: { initialStreamCredit: 16 * 1024 } } });
    const s = subscribeWith(net.connect, 'firehose', { clock });
    const it = s[Symbol.asyncIterator]();
    let maxRetainedBytes = 0;
    let maxRetainedEvents = 0;
    let maxQueued = 0;
    let maxAhead = 0;
    for (let i = 0; i < 150; i++) {
      await onClock(clock, it.next(), 'next');
      if (i % 3 === 0) await advance(clock, 2, 2);
      const inst = events.instance('firehose', s.key);
      if (inst === undefined) continue;
      const r = inst.retained;
      maxRetainedBytes = Math.max(maxRetainedBytes, r.bytes);
      maxRetainedEvents = Math.max(maxRetainedEvents, r.events);
      maxQueued = Math.max(maxQueued, inst.queuedBytes);
      maxAhead = Math.max(maxAhead, r.lastId - r.ackedId);
    }
    console.log(`[events] slow consumer: read 150, producer emitted ${emitted}; max retained ${maxRetainedEvents} events / ${maxRetainedBytes} B, max queued ${maxQueued} B, max ahead of ack ${maxAhead}`);
    expect(maxRetainedEvents).toBeLessThanOrEqual(maxEvents);
    expect(maxRetainedBytes).toBeLessThanOrEqual(maxBytes);
    expect(maxQueued).toBeLessThanOrEqual(writeBuffer + 300);
    // The producer never got further ahead of what the consumer acknowledged than the log holds.
    expect(maxAhead).toBeLessThanOrEqual(maxEvents);
    expect(emitted).toBeLessThan(150 + maxEvents + 2);
    s.cancel();
  });

  it('FW-EV-60 FW-EV-61 FW-EV-62: coalescing merges events while the consumer is behind (at most one per minIntervalMs) instead of blocking; ids stay contiguous and the last state arrives', async () => {
    const clock = new ManualClock();
    const events = new EventService({ clock });
    let producerDoneAt = 0;
    const emitted = 2000;
    events.handle(
      'progress',
      async ({ emit }) => {
        for (let i = 1; i <= emitted; i++) {
          await emit('progress', { pct: i / 20, merged: 1 });
          if (i % 100 === 0) await wait(clock, 5);
        }
        await emit('log', 'finished');
        producerDoneAt = clock.now();
      },
      {
        coalesce: {
          types: ['progress'],
          minIntervalMs: 20,
          merge: (a, b) => ({ type: b.type, data: { pct: (b.data as { pct: number }).pct, merged: (a.data as { merged: number }).merged + (b.data as { merged: number }).merged } }),
        },
      },
    );
    const net = network({ clock, services: [events] });
    const s = subscribeWith(net.connect, 'progress', { clock });
    const started = clock.now();
    const got: DeliveredEvent[] = await onClock(
      clock,
      collect(s, async () => {
        await advance(clock, 3, 3);
      }),
      'collect',
    );
    expect((await s.outcome).status).toBe('done');
    const progress = got.filter((e) => e.type === 'progress').map((e) => e.data as { pct: number; merged: number });
    console.log(`[events] coalescing: ${emitted} progress events -> ${progress.length} delivered, ${events.counters.droppedByCoalescing} merged away; producer finished after ${producerDoneAt - started} ms of the clock`);
    expect(got.map((e) => e.id)).toEqual(got.map((_, i) => i + 1));
    expect(progress.length).toBeLessThan(emitted / 4);
    // Nothing is lost silently: every emitted event is either delivered or counted as merged.
    expect(progress.reduce((n, p) => n + p.merged, 0)).toBe(emitted);
    expect(events.counters.droppedByCoalescing).toBe(emitted - progress.length);
    expect(progress.at(-1)!.pct).toBe(emitted / 20);
    expect(got.at(-1)).toMatchObject({ type: 'log', data: 'finished' });
    await until(() => events.size === 0, 'dropped');
  });
});

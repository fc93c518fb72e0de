/**
 * Events already received are handed to the application without an await each
 * (Subscription.next() takes them from the stream's queue): they still come exactly once, in id
 * order, also to next() calls made before earlier ones settled, and the acknowledgements and the
 * end are those of the awaiting path (FW-EV-12, FW-EV-31).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { EventService } from '../../src/api/events.ts';
import { encodeEvent } from '../../src/events/protocol.ts';
import { Harness, sub, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(async () => {
  await h.cleanup();
});

const N = 300;
const big = new Uint8Array(100_000).fill(7);

describe('events received before they are read', () => {
  it('FW-EV-12 FW-EV-31: a backlog (the first event in two frames) read by bursts of concurrent next() calls comes in call order, once each, acknowledged; then the end', async () => {
    const events = new EventService();
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    events.handle('backlog', async ({ emit }) => {
      // The first spans two frames: next() must await its assembly, and the calls after it wait.
      await emit('n', big);
      for (let i = 2; i <= N; i++) await emit('n', i);
      await hold;
      return { sent: N };
    });
    const { port } = await h.server({ services: [events] });
    const s = sub(port, 'backlog');
    const it = s[Symbol.asyncIterator]();
    // The events (and the start before them) received, none read yet.
    const backlog = Array.from({ length: N - 1 }, (_, i) => encodeEvent(i + 2, 'n', i + 2).length).reduce((a, b) => a + b, encodeEvent(1, 'n', big).length);
    await within(waitFor(() => (s.stream?.bufferedBytes ?? 0) >= backlog, 5000, 'backlog received'), 6000, 'backlog');
    const ids: number[] = [];
    while (ids.length < N) {
      const burst = await Promise.all(Array.from({ length: Math.min(7, N - ids.length) }, () => it.next()));
      for (const r of burst) ids.push(r.done === true ? -1 : r.value.id);
    }
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(s.stats).toMatchObject({ delivered: N, duplicates: 0 });
    await within(waitFor(() => events.instance('backlog', s.key)?.retained.ackedId === N, 5000, 'all acked'), 6000, 'acks');
    release();
    expect((await within(it.next(), 5000, 'end')).done).toBe(true);
    expect(await s.outcome).toEqual({ status: 'done', summary: { sent: N } });
  });
});

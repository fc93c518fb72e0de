/**
 * Issue 12, item 16: two read() calls made before either settled. There used to be one reader
 * slot: the second call took it and the first never settled. Now read() calls are served in call
 * order, each with the next whole message, and any number of readers may wait at once.
 */

import { describe, expect, it } from 'vitest';
import { DataFlags } from '../../src/wire/index.ts';
import { connectedServer, flush, text } from './helpers.ts';

async function acceptedStream() {
  const h = await connectedServer();
  h.peer.open(1);
  await flush();
  return { h, s: h.accepted[0]! };
}

describe('concurrent read() calls', () => {
  it('two reads waiting at once get the next two messages, in call order', async () => {
    const { h, s } = await acceptedStream();
    const first = s.read();
    const second = s.read();
    await flush();
    h.peer.data(1, 'one');
    h.peer.data(1, 'two');
    expect(text((await first)!)).toBe('one');
    expect(text((await second)!)).toBe('two');
  });

  it('many waiting reads, messages split over FOLLOWS chains and the end: each read gets one whole message, then undefined', async () => {
    const { h, s } = await acceptedStream();
    const reads = Array.from({ length: 5 }, () => s.read());
    await flush();
    h.peer.data(1, 'al', DataFlags.FOLLOWS);
    await flush();
    h.peer.data(1, 'pha');
    h.peer.data(1, 'be', DataFlags.FOLLOWS);
    h.peer.data(1, 'ta');
    h.peer.data(1, 'gamma');
    h.peer.done(1);
    const got = await Promise.all(reads);
    expect(got.map((m) => (m === undefined ? undefined : text(m)))).toEqual(['alpha', 'beta', 'gamma', undefined, undefined]);
  });

  it('a read() and an iterator waiting at once both settle (no waiter is lost)', async () => {
    const { h, s } = await acceptedStream();
    const it = s.chunks();
    const fromIterator = it.next();
    const fromRead = s.read();
    await flush();
    h.peer.data(1, 'x');
    await flush();
    h.peer.data(1, 'y');
    const viaIterator: IteratorResult<Uint8Array> = await fromIterator;
    const viaRead = await fromRead;
    expect([text(viaIterator.value as Uint8Array), text(viaRead!)]).toEqual(['x', 'y']);
  });

  it('reads waiting when the stream fails all reject with its error', async () => {
    const { h, s } = await acceptedStream();
    const reads = [s.read(), s.read(), s.read()];
    await flush();
    h.peer.error(1, 'INTERNAL', 'peer gave up');
    for (const r of reads) await expect(r).rejects.toMatchObject({ code: 'INTERNAL', remote: true });
  });
});

/**
 * The stream's async iterators (messages, chunks() and batches()) behave like async generators: reads queued
 * before data arrives are served in order, an error ends iteration, return() ends it, and a
 * reader that finds data queued gets it without waiting.
 */

import { describe, expect, it } from 'vitest';
import { MAX_BATCH } from '../../src/session/stream-reader.ts';
import { bytes, pair, settle, text } from './helpers.ts';

/** The texts of one batches() step ([] when done). */
const texts = (r: IteratorResult<Uint8Array[]>): string[] => (r.done === true ? [] : r.value.map(text));

describe('stream readers', () => {
  it('next() calls made before data arrives are answered in order', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    await s.write(bytes('hello'));
    await settle();
    const peer = p.accepted[0]!;
    const it = peer[Symbol.asyncIterator]();
    const first = await it.next();
    expect(text(first.value as Uint8Array)).toBe('hello');
    const a = it.next();
    const b = it.next();
    const c = it.next();
    await s.write(bytes('one'));
    await s.write(bytes('two'));
    void s.end();
    const got = await Promise.all([a, b, c]);
    expect(got.map((r) => (r.done === true ? 'done' : text(r.value)))).toEqual(['one', 'two', 'done']);
    expect((await it.next()).done).toBe(true);
  });

  it('messages spanning frames are joined; chunks() yields the pieces', async () => {
    const p = await pair({ server: { settings: { maxFramePayload: 1024 } } });
    const s = p.client.open({ kind: 'r' });
    await s.write(new Uint8Array(3000).fill(7));
    await s.write(new Uint8Array(10).fill(8));
    void s.end();
    await settle();
    const peer = p.accepted[0]!;
    const chunks: number[] = [];
    for await (const c of peer.chunks()) chunks.push(c.length);
    expect(chunks).toEqual([1024, 1024, 952, 10]);

    const s2 = p.client.open({ kind: 'r2' });
    await s2.write(new Uint8Array(3000).fill(7));
    void s2.end();
    await settle();
    const messages: number[] = [];
    for await (const m of p.accepted[1]!) messages.push(m.length);
    expect(messages).toEqual([3000]);
  });

  it('a failed stream rejects the pending read, then reports done', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    await s.write(bytes('x'));
    await settle();
    const peer = p.accepted[0]!;
    const it = peer.chunks();
    await it.next();
    const pending = it.next();
    s.fail('INTERNAL', 'boom');
    await expect(pending).rejects.toMatchObject({ code: 'INTERNAL' });
    expect((await it.next()).done).toBe(true);
  });

  it('return() ends the iteration; break in for-await leaves the stream readable by a new reader', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    for (const w of ['a', 'b', 'c']) await s.write(bytes(w));
    void s.end();
    await settle();
    const peer = p.accepted[0]!;
    for await (const m of peer) {
      expect(text(m)).toBe('a');
      break;
    }
    const it = peer[Symbol.asyncIterator]();
    expect(text((await it.next()).value as Uint8Array)).toBe('b');
    expect((await it.return!()).done).toBe(true);
    expect((await it.next()).done).toBe(true);
    expect(text((await peer.read())!)).toBe('c');
    expect(await peer.read()).toBeUndefined();
  });

  it('batches() yields every whole message queued, joined across frames, in order, then done', async () => {
    const p = await pair({ server: { settings: { maxFramePayload: 1024 } } });
    const s = p.client.open({ kind: 'r' });
    const sent = ['a', 'bb', '', 'x'.repeat(3000), 'ccc'];
    for (const m of sent) void s.write(bytes(m));
    void s.end();
    await settle();
    const peer = p.accepted[0]!;
    const batches: string[][] = [];
    for await (const batch of peer.batches()) batches.push(batch.map(text));
    // Everything had arrived: one batch, the 3000-byte message joined from its three frames.
    expect(batches).toEqual([sent]);
  });

  it('batches() waits for the first message, and a batch never runs past what has arrived', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    await s.write(bytes('first'));
    await settle();
    const peer = p.accepted[0]!;
    const it = peer.batches();
    expect(texts(await it.next())).toEqual(['first']);
    const pending = it.next();
    await s.write(bytes('second'));
    await s.write(bytes('third'));
    const got = texts(await pending);
    // The waiting step takes what is queued when it wakes: at least the first message written.
    expect(got[0]).toBe('second');
    const rest = got.length === 2 ? [] : texts(await it.next());
    expect([...got, ...rest]).toEqual(['second', 'third']);
    void s.end();
    expect((await it.next()).done).toBe(true);
  });

  it('batches(): a stream that fails delivers the messages read before it, then rejects', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    await s.write(bytes('one'));
    await s.write(bytes('two'));
    await settle();
    const peer = p.accepted[0]!;
    const it = peer.batches();
    expect(texts(await it.next())).toEqual(['one', 'two']);
    const pending = it.next();
    s.fail('INTERNAL', 'boom');
    await expect(pending).rejects.toMatchObject({ code: 'INTERNAL' });
    expect((await it.next()).done).toBe(true);
  });

  it('batches() yields at most MAX_BATCH messages per step, all of them in order', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'r' });
    const sent = Array.from({ length: 3000 }, (_, i) => `m${i}`);
    for (const m of sent) void s.write(bytes(m));
    void s.end();
    await settle();
    const sizes: number[] = [];
    const got: string[] = [];
    for await (const batch of p.accepted[0]!.batches()) {
      sizes.push(batch.length);
      got.push(...batch.map(text));
    }
    expect(got).toEqual(sent);
    expect(Math.max(...sizes)).toBe(MAX_BATCH);
  });
});

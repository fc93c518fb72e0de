/** Scheduling (spec §8.4): control ahead of DATA, round-robin within an urgency, strict priority, no head-of-line blocking on credit. */

import { describe, expect, it } from 'vitest';
import { resolveSessionOptions } from '../../src/session/options.ts';
import { FrameType } from '../../src/wire/index.ts';
import { bytes, connectedClient, connectedServer, dataBytes, dataFrames, flush, invalidArgument, ofType, trace } from './helpers.ts';

/** A transport above the high-water mark: the scheduler holds DATA back, control still goes out. */
const CLOGGED = 1 << 30;

describe('scheduler', () => {
  it('FW-SCHED-1/FW-HB-2: a PING answer is written before DATA already queued', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const s = h.session.open({ kind: 'bulk' });
    h.transport.bufferedBytes = CLOGGED;
    void s.write(bytes(4096));
    await flush();
    expect(trace(h.transport.take())).toEqual(['OPEN 1']);
    h.peer.ping(Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9));
    await flush();
    expect(trace(h.transport.take())).toEqual(['PING+ACK 0']);
    h.transport.bufferedBytes = 0;
    h.session.writable();
    await flush();
    expect(trace(h.transport.take())).toEqual(['DATA 1', 'DATA 1', 'DATA 1', 'DATA 1']);
  });

  it('FW-SCHED-6: DATA is passed to the transport only while its backlog is below the high-water mark, which may not exceed 1 MiB', async () => {
    const h = await connectedClient({ limits: { transportHighWater: 4096 } }, { maxFramePayload: 1024, initialStreamCredit: 1 << 20, initialConnectionCredit: 1 << 20 });
    const s = h.session.open({ kind: 'bulk' });
    await flush();
    h.transport.take();
    // A backlog at the mark: the DATA stays queued.
    h.transport.bufferedBytes = 4096;
    void s.write(bytes(8192));
    await flush();
    expect(dataFrames(h.transport.frames)).toEqual([]);
    // One byte below it: DATA flows again (this transport does not grow its backlog as it is written to).
    h.transport.bufferedBytes = 4095;
    h.session.writable();
    await flush();
    expect(dataBytes(h.transport.frames)).toBe(8192);
    expect(() => resolveSessionOptions({ role: 'client', limits: { transportHighWater: 1024 * 1024 + 1 } })).toThrow(/FW-SCHED-6/u);
    expect(resolveSessionOptions({ role: 'client' }).limits.transportHighWater).toBe(1024 * 1024);
  });

  it('FW-SCHED-1: a CREDIT is written before queued DATA', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 2048 } }, { maxFramePayload: 1024 });
    h.peer.open(1);
    h.peer.data(1, 1024);
    h.peer.data(1, 1024);
    await flush();
    const s = h.accepted[0]!;
    h.transport.bufferedBytes = CLOGGED;
    void s.write(bytes(4096));
    await s.read();
    await flush();
    expect(trace(h.transport.take())).toEqual(['CREDIT 1']);
    expect(dataFrames(h.transport.frames)).toEqual([]);
  });

  it('FW-SCHED-1: a CANCEL of one stream is written before DATA queued on another', async () => {
    const h = await connectedClient();
    const bulk = h.session.open({ kind: 'bulk' });
    const other = h.session.open({ kind: 'other' });
    await flush();
    h.transport.take();
    h.transport.bufferedBytes = CLOGGED;
    void bulk.write(bytes(4096));
    await flush();
    other.cancel();
    await flush();
    expect(trace(h.transport.take())).toEqual([`CANCEL ${other.id}`]);
  });

  it('FW-SCHED-2: two streams of the same urgency alternate frame by frame', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const a = h.session.open({ kind: 'a' });
    const b = h.session.open({ kind: 'b' });
    void a.write(bytes(3 * 1024));
    void b.write(bytes(3 * 1024));
    await flush();
    expect(trace(h.transport.take())).toEqual(['OPEN 1', 'OPEN 3', 'DATA 1', 'DATA 3', 'DATA 1', 'DATA 3', 'DATA 1', 'DATA 3']);
  });

  it('FW-SCHED-2: a stream that joins later gets its turn rather than waiting for the bulk stream', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const bulk = h.session.open({ kind: 'bulk' });
    void bulk.write(bytes(4 * 1024));
    const late = h.session.open({ kind: 'late' });
    void late.write(bytes(1024));
    await flush();
    const order = trace(dataFrames(h.transport.take()));
    expect(order.indexOf('DATA 3')).toBeLessThanOrEqual(1);
  });

  it('FW-SCHED-3: a more urgent stream is sent first, whatever the order of writes', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const lazy = h.session.open({ kind: 'lazy', urgency: 6 });
    const urgent = h.session.open({ kind: 'urgent', urgency: 1 });
    const normal = h.session.open({ kind: 'normal' });
    void lazy.write(bytes(2048));
    void normal.write(bytes(2048));
    void urgent.write(bytes(2048));
    await flush();
    const opens = ofType(h.transport.frames, FrameType.OPEN);
    expect(opens.map((f) => f.payload.urgency)).toEqual([6, 1, undefined]);
    expect(trace(dataFrames(h.transport.take()))).toEqual(['DATA 3', 'DATA 3', 'DATA 5', 'DATA 5', 'DATA 1', 'DATA 1']);
  });

  it('FW-SCHED-4: OPEN goes before the stream DATA and DONE after it', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes(2048));
    void s.end();
    await flush();
    expect(trace(h.transport.take())).toEqual(['OPEN 1', 'DATA 1', 'DATA 1', 'DONE 1']);
  });

  it('a stream blocked on its own credit does not block the others', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 1024, maxFramePayload: 1024 });
    const stuck = h.session.open({ kind: 'stuck' });
    const free = h.session.open({ kind: 'free' });
    void stuck.write(bytes(8192));
    await flush();
    void free.write(bytes(1000));
    void free.end();
    await flush();
    expect(dataBytes(h.transport.frames, stuck.id)).toBe(1024);
    expect(dataBytes(h.transport.frames, free.id)).toBe(1000);
    expect(ofType(h.transport.frames, FrameType.DONE, free.id)).toHaveLength(1);
    // A CREDIT brings the stalled stream back.
    h.peer.credit(stuck.id, 4096);
    await flush();
    expect(dataBytes(h.transport.frames, stuck.id)).toBe(4096);
  });

  it('the transport high-water mark holds DATA back until writable()', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    h.transport.bufferedBytes = CLOGGED;
    void s.write(bytes(100));
    await flush();
    expect(dataFrames(h.transport.frames)).toEqual([]);
    h.transport.bufferedBytes = 0;
    h.session.writable();
    await flush();
    expect(dataBytes(h.transport.frames, s.id)).toBe(100);
  });

  it('a large backlog is sent in bursts that yield to incoming frames', async () => {
    const h = await connectedClient({ limits: { sendBurstBytes: 4096 } }, { maxFramePayload: 1024, initialStreamCredit: 1 << 20, initialConnectionCredit: 1 << 20 });
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes(64 * 1024));
    await flush();
    // One burst went out, then the pump yielded the event loop.
    const firstBurst = dataBytes(h.transport.frames, s.id);
    expect(firstBurst).toBeGreaterThanOrEqual(4096);
    expect(firstBurst).toBeLessThan(64 * 1024);
    h.peer.ping(Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7));
    for (let i = 0; i < 40; i++) await flush();
    const t = trace(h.transport.frames);
    expect(dataBytes(h.transport.frames, s.id)).toBe(64 * 1024);
    // The answer went out while most of the backlog was still queued.
    expect(t.slice(t.indexOf('PING+ACK 0')).filter((x) => x === 'DATA 1').length).toBeGreaterThan(32);
  });
});

describe('scheduler: fifo policy (a local policy for experiments, §8.4)', () => {
  const fifo = { limits: { schedulingPolicy: 'fifo' } } as const;

  it('is off by default and rejects an unknown policy', () => {
    expect(resolveSessionOptions({ role: 'client' }).limits.schedulingPolicy).toBe('round-robin');
    expect(() => resolveSessionOptions({ role: 'client', limits: { schedulingPolicy: 'lifo' as never } })).toThrow(invalidArgument);
  });

  it('serves the stream that became ready first until it has nothing left, without per-frame rotation', async () => {
    const h = await connectedClient(fifo, { maxFramePayload: 1024 });
    const a = h.session.open({ kind: 'a' });
    const b = h.session.open({ kind: 'b' });
    void a.write(bytes(3 * 1024));
    void b.write(bytes(3 * 1024));
    await flush();
    expect(trace(h.transport.take())).toEqual(['OPEN 1', 'OPEN 3', 'DATA 1', 'DATA 1', 'DATA 1', 'DATA 3', 'DATA 3', 'DATA 3']);
  });

  it('a stream that joins later waits behind the bulk stream (head-of-line blocking by design)', async () => {
    const h = await connectedClient(fifo, { maxFramePayload: 1024 });
    const bulk = h.session.open({ kind: 'bulk' });
    void bulk.write(bytes(4 * 1024));
    const late = h.session.open({ kind: 'late' });
    void late.write(bytes(1024));
    await flush();
    expect(trace(dataFrames(h.transport.take()))).toEqual(['DATA 1', 'DATA 1', 'DATA 1', 'DATA 1', 'DATA 3']);
  });

  it('moves on when the first stream runs out of its own credit; a CREDIT puts it back at the end of the line', async () => {
    const h = await connectedClient(fifo, { initialStreamCredit: 2048, maxFramePayload: 1024 });
    const a = h.session.open({ kind: 'a' });
    const b = h.session.open({ kind: 'b' });
    void a.write(bytes(4096));
    void b.write(bytes(4096));
    await flush();
    expect(trace(dataFrames(h.transport.take()))).toEqual(['DATA 1', 'DATA 1', 'DATA 3', 'DATA 3']);
    h.peer.credit(b.id, 4096);
    h.peer.credit(a.id, 4096);
    await flush();
    expect(trace(dataFrames(h.transport.take()))).toEqual(['DATA 3', 'DATA 3', 'DATA 1', 'DATA 1']);
  });

  it('still honours urgency: a more urgent stream goes first (FW-SCHED-3)', async () => {
    const h = await connectedClient(fifo, { maxFramePayload: 1024 });
    const bulk = h.session.open({ kind: 'bulk' });
    const urgent = h.session.open({ kind: 'urgent', urgency: 0 });
    void bulk.write(bytes(2048));
    void urgent.write(bytes(2048));
    await flush();
    expect(trace(dataFrames(h.transport.take()))).toEqual(['DATA 3', 'DATA 3', 'DATA 1', 'DATA 1']);
  });
});

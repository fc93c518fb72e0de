/** Flow control (spec §8.3): the session as sender and receiver, and the L1 window objects directly. */

import { describe, expect, it } from 'vitest';
import { isFramewireError } from '../../src/errors.ts';
import { ReceiveWindow, SendCredit } from '../../src/flow/index.ts';
import { DataFlags, FrameType, PingFlags } from '../../src/wire/index.ts';
import { bytes, codeOf, connectedClient, connectedServer, dataBytes, expectConnectionError, expectStillOpen, flush, ofType } from './helpers.ts';

const creditOffsets = (frames: Parameters<typeof ofType>[0], stream: number): number[] => ofType(frames, FrameType.CREDIT, stream).map((f) => f.payload);

describe('flow control: sending', () => {
  it('FW-FLOW-1: DATA stays within the peer initial_stream_credit and initial_connection_credit', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 3000, initialConnectionCredit: 5000, maxFramePayload: 1024 });
    const streams = [h.session.open({ kind: 'a' }), h.session.open({ kind: 'b' }), h.session.open({ kind: 'c' })];
    for (const s of streams) void s.write(bytes(10_000));
    await flush();
    const f = h.transport.frames;
    for (const s of streams) expect(dataBytes(f, s.id)).toBeLessThanOrEqual(3000);
    expect(dataBytes(f)).toBe(5000);
    await flush();
    expect(dataBytes(h.transport.frames)).toBe(5000);
  });

  it('FW-FLOW-1/FW-FLOW-3: CREDIT raises limits as absolute offsets; a lower CREDIT is ignored', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 3000, initialConnectionCredit: 5000, maxFramePayload: 1024 });
    const [a, b] = [h.session.open({ kind: 'a' }), h.session.open({ kind: 'b' })];
    void a.write(bytes(10_000));
    void b.write(bytes(10_000));
    await flush();
    expect(dataBytes(h.transport.frames)).toBe(5000);

    h.peer.credit(0, 100_000);
    await flush();
    // Connection credit is plentiful now; each stream is capped by its own 3000.
    expect([dataBytes(h.transport.frames, a.id), dataBytes(h.transport.frames, b.id)]).toEqual([3000, 3000]);

    // An offset, not an increment: 6000 means 3000 more, not 6000 more.
    h.peer.credit(a.id, 6000);
    await flush();
    expect(dataBytes(h.transport.frames, a.id)).toBe(6000);

    h.peer.credit(a.id, 4000);
    h.peer.credit(a.id, 6000);
    h.peer.credit(0, 50);
    await flush();
    expect(dataBytes(h.transport.frames, a.id)).toBe(6000);
    expect(dataBytes(h.transport.frames, b.id)).toBe(3000);
    expectStillOpen(h);
  });

  it('FW-FLOW-1: a lower connection CREDIT does not shrink the connection limit', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 100_000, initialConnectionCredit: 2000 });
    h.peer.credit(0, 1000);
    const s = h.session.open({ kind: 'a' });
    void s.write(bytes(5000));
    await flush();
    expect(dataBytes(h.transport.frames, s.id)).toBe(2000);
  });

  it('FW-FLOW-6: a CREDIT offset above 2^53-1 is FLOW_CONTROL', async () => {
    const h = await connectedClient();
    h.peer.send(FrameType.CREDIT, 0, new Uint8Array(8).fill(0xff));
    await expectConnectionError(h, 'FLOW_CONTROL');
  });
});

describe('flow control: receiving', () => {
  it('FW-FLOW-2: overrunning a stream window is FLOW_CONTROL (connection error)', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 1000 } });
    h.peer.open(1);
    h.peer.data(1, 600);
    h.peer.data(1, 400);
    await flush();
    expectStillOpen(h);
    h.peer.data(1, 1);
    await expectConnectionError(h, 'FLOW_CONTROL');
  });

  it('FW-FLOW-2: overrunning the connection window across streams is FLOW_CONTROL', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 1000, initialConnectionCredit: 1500 } });
    h.peer.open(1);
    h.peer.open(3);
    h.peer.data(1, 1000);
    h.peer.data(3, 500);
    await flush();
    expectStillOpen(h);
    h.peer.data(3, 1);
    await expectConnectionError(h, 'FLOW_CONTROL');
  });

  it('FW-FLOW-7: DATA for a stream we cancelled still counts against the connection window', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4000, initialConnectionCredit: 4000 } });
    h.peer.open(1);
    await flush();
    h.accepted[0]!.cancel();
    await flush();
    h.peer.data(1, 4000);
    await flush();
    expectStillOpen(h);
    // Counted, then credited back at once: the connection limit is now 4000 + 4000.
    expect(creditOffsets(h.transport.frames, 0)).toEqual([8000]);
    h.peer.data(1, 4001);
    await expectConnectionError(h, 'FLOW_CONTROL');
  });

  it('FW-FLOW-4: credit is returned when the application reads, not on arrival; buffers stay within the window', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 8192 } });
    h.peer.open(1);
    for (let i = 0; i < 4; i++) h.peer.data(1, 1024);
    await flush();
    await flush();
    const s = h.accepted[0]!;
    expect(ofType(h.transport.frames, FrameType.CREDIT)).toEqual([]);
    expect(s.bufferedBytes).toBe(4096);
    expect(h.session.bufferedBytes).toBe(4096);
    // The peer is blocked: one more byte would be an overrun.

    await s.read();
    await flush();
    expect(ofType(h.transport.frames, FrameType.CREDIT)).toEqual([]);
    await s.read();
    await flush();
    // Half the window consumed: limit = consumed + window (no RTT known, so no auto-tuning).
    expect(creditOffsets(h.transport.frames, 1)).toEqual([2048 + 4096]);
    expect(creditOffsets(h.transport.frames, 0)).toEqual([]);
    expect(s.bufferedBytes).toBe(2048);
    expect(h.session.bufferedBytes).toBe(2048);
  });

  it('FW-FLOW-4: CREDIT is coalesced, not one per DATA frame read', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 1 << 20 } });
    h.peer.open(1);
    for (let i = 0; i < 64; i++) h.peer.data(1, 64);
    const s = h.accepted[0]!;
    for (let i = 0; i < 64; i++) await s.read();
    await flush();
    const credits = creditOffsets(h.transport.frames, 1);
    expect(credits.length).toBeGreaterThanOrEqual(1);
    expect(credits.length).toBeLessThanOrEqual(2);
    expect(credits.at(-1)).toBe(4096 + 4096);
    // Offsets only grow (FW-FLOW-3 on the other side).
    expect([...credits].sort((x, y) => x - y)).toEqual(credits);
  });

  it('FW-FLOW-7: the unread bytes of a cancelled stream are credited back at connection level', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 4096 } });
    h.peer.open(1);
    h.peer.data(1, 4096);
    await flush();
    expect(h.session.bufferedBytes).toBe(4096);
    h.accepted[0]!.cancel();
    await flush();
    expect(h.session.bufferedBytes).toBe(0);
    expect(ofType(h.transport.frames, FrameType.CANCEL, 1)).toHaveLength(1);
    expect(creditOffsets(h.transport.frames, 0)).toEqual([8192]);
    // The window is usable again by another stream.
    h.peer.open(3);
    h.peer.data(3, 4096);
    await flush();
    expectStillOpen(h);
  });

  it('FW-FLOW-7: DATA arriving after our CANCEL is discarded and credited back at once', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 4096 } });
    h.peer.open(1);
    await flush();
    h.accepted[0]!.cancel();
    h.peer.data(1, 2048);
    await flush();
    expect(h.session.bufferedBytes).toBe(0);
    expect(creditOffsets(h.transport.frames, 0)).toEqual([2048 + 4096]);
    expect(creditOffsets(h.transport.frames, 1)).toEqual([]);
  });

  it('FW-FLOW-8: a message three windows long completes while the application waits for it; nobody reading, no credit', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 1 << 20, maxMessageSize: 1 << 20 } });
    h.peer.open(1);
    h.peer.data(1, 4096, DataFlags.FOLLOWS);
    await flush();
    // Nobody waits for the message: the unfinished bytes are not consumed (a sink never returns credit).
    expect(creditOffsets(h.transport.frames, 1)).toEqual([]);
    const s = h.accepted[0]!;
    const whole = s.read();
    await flush();
    // The application waits: the 4096 unfinished bytes count as consumed, and credit returns for them.
    expect(creditOffsets(h.transport.frames, 1)).toEqual([4096 + 4096]);
    h.peer.data(1, 4096, DataFlags.FOLLOWS);
    await flush();
    expect(creditOffsets(h.transport.frames, 1)).toEqual([8192, 8192 + 4096]);
    h.peer.data(1, 4096);
    const message = await whole;
    expect(message?.length).toBe(3 * 4096);
    expectStillOpen(h);
    // Held at most: the message (up to max_message_size) plus one window beyond what was counted.
    expect(s.bufferedBytes).toBe(0);
  });

  it('FW-FLOW-9: credit is checked before the message size: DATA beyond the limit is FLOW_CONTROL even when the message is too large too', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 1000, maxMessageSize: 500 } });
    h.peer.open(1);
    h.peer.data(1, 1001);
    await expectConnectionError(h, 'FLOW_CONTROL');
  });

  it('FW-FLOW-9: after MESSAGE_TOO_LARGE the stream\'s later DATA is discarded and credited back at the connection level', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 4096, maxMessageSize: 1000 } });
    h.peer.open(1);
    h.peer.data(1, 1001, DataFlags.FOLLOWS);
    await flush();
    expect(ofType(h.transport.frames, FrameType.ERROR, 1).map(codeOf)).toEqual(['MESSAGE_TOO_LARGE']);
    h.peer.data(1, 3095);
    await flush();
    expectStillOpen(h);
    expect(h.session.bufferedBytes).toBe(0);
    expect(creditOffsets(h.transport.frames, 0).at(-1)).toBe(4096 + 4096);
  });

  it('FW-FLOW-5: with a known RTT, a window consumed quickly doubles in the next CREDIT', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 1 << 20 } }, {}, { answerPing: true, rttMs: 10 });
    expect(h.session.rttMs).toBe(10);
    // Windows grow only once three RTT samples exist (one sample is not trusted): two more pings.
    for (let i = 0; i < 2; i++) {
      const rtt = h.session.ping();
      await flush();
      h.clock.advance(10);
      h.peer.answerPings(h.transport.take());
      await rtt;
    }
    h.peer.open(1);
    h.peer.data(1, 1024);
    h.peer.data(1, 1024);
    const s = h.accepted[0]!;
    await s.read();
    await s.read();
    await flush();
    // window 4096 → 8192: limit = consumed + new window.
    expect(creditOffsets(h.transport.frames, 1)).toEqual([2048 + 8192]);
  });

  it('FW-FLOW-5: with fewer than three RTT samples a window does not grow yet, and a probe PING goes out', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 1 << 20 } }, {}, { answerPing: true, rttMs: 10 });
    h.peer.open(1);
    h.peer.data(1, 1024);
    h.peer.data(1, 1024);
    const s = h.accepted[0]!;
    await s.read();
    await s.read();
    await flush();
    const frames = h.transport.take();
    expect(creditOffsets(frames, 1)).toEqual([2048 + 4096]);
    expect(ofType(frames, FrameType.PING).filter((f) => (f.flags & PingFlags.ACK) === 0)).toHaveLength(1);
  });

  it('FW-FLOW-5: a window consumed slowly does not grow', async () => {
    const h = await connectedServer({ settings: { initialStreamCredit: 4096, initialConnectionCredit: 1 << 20 } }, {}, { answerPing: true, rttMs: 10 });
    h.peer.open(1);
    h.peer.data(1, 1024);
    h.peer.data(1, 1024);
    const s = h.accepted[0]!;
    await s.read();
    h.clock.advance(5000);
    h.peer.ping(new Uint8Array(8), false);
    await s.read();
    await flush();
    expect(creditOffsets(h.transport.frames, 1)).toEqual([2048 + 4096]);
  });
});

describe('SendCredit (unit)', () => {
  it('tracks an absolute limit: available = limit - sent', () => {
    const c = new SendCredit(1000);
    expect(c.available).toBe(1000);
    c.consume(400);
    expect([c.sent, c.available, c.limit]).toEqual([400, 600, 1000]);
  });

  it('FW-FLOW-3: raise() accepts only a higher limit', () => {
    const c = new SendCredit(1000);
    c.consume(1000);
    expect(c.raise(900)).toBe(false);
    expect(c.raise(1000)).toBe(false);
    expect(c.available).toBe(0);
    expect(c.raise(2500)).toBe(true);
    expect(c.available).toBe(1500);
    expect(c.raise(2000)).toBe(false);
    expect(c.limit).toBe(2500);
  });
});

describe('ReceiveWindow (unit)', () => {
  it('FW-FLOW-2: receiving beyond the limit throws FLOW_CONTROL and leaves the count unchanged', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 1000, label: 'stream 1' });
    w.receive(1000);
    let caught: unknown;
    try {
      w.receive(1);
    } catch (error) {
      caught = error;
    }
    expect(isFramewireError(caught) && caught.code).toBe('FLOW_CONTROL');
    expect(w.received).toBe(1000);
  });

  it('FW-FLOW-4: returns a new limit only once half a window is unadvertised', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 1000, label: 'c' });
    w.receive(1000);
    expect(w.buffered).toBe(1000);
    expect(w.consume(499, 0, 0)).toBeUndefined();
    expect(w.limit).toBe(1000);
    expect(w.consume(1, 0, 0)).toBe(1500);
    expect(w.consume(200, 0, 0)).toBeUndefined();
    expect(w.consume(300, 0, 0)).toBe(2000);
    expect(w.buffered).toBe(0);
  });

  it('FW-FLOW-5: doubles when consumed within a few RTTs, up to the ceiling', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 3000, label: 'c' });
    let now = 0;
    const limits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const room = w.limit - w.received;
      w.receive(room);
      const l = w.consume(room, now, 50);
      if (l !== undefined) limits.push(l);
      now += 1;
    }
    expect(w.window).toBe(3000);
    expect(limits[0]).toBe(1000 + 2000);
    // Never above the ceiling, and limits only grow.
    for (let i = 1; i < limits.length; i++) expect(limits[i]! - w.consumed).toBeLessThanOrEqual(3000);
    expect([...limits].sort((a, b) => a - b)).toEqual(limits);
  });

  it('FW-FLOW-5: does not grow without an RTT, or when consumption is slow', () => {
    const noRtt = new ReceiveWindow({ initial: 1000, max: 8000, label: 'c' });
    noRtt.receive(1000);
    expect(noRtt.consume(1000, 0, 0)).toBe(2000);
    expect(noRtt.window).toBe(1000);

    const slow = new ReceiveWindow({ initial: 1000, max: 8000, label: 'c' });
    slow.receive(1000);
    slow.consume(100, 0, 10);
    expect(slow.consume(900, 10_000, 10)).toBe(2000);
    expect(slow.window).toBe(1000);
  });

  it('the ceiling is never below the initial window', () => {
    const w = new ReceiveWindow({ initial: 5000, max: 1000, label: 'c' });
    w.receive(5000);
    expect(w.consume(5000, 0, 1)).toBe(10_000);
  });
});

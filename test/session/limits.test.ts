/** Local limits against abuse and malformed control payloads (spec §8.8, §5). */

import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../src/wire/msgpack.ts';
import { FrameType } from '../../src/wire/index.ts';
import { connectedClient, connectedServer, errorCodes, expectConnectionError, expectStillOpen, flush, ofType } from './helpers.ts';

/** 0xc1 is never used in MessagePack: not decodable. */
const BAD_MSGPACK = Uint8Array.of(0xc1);

describe('stream limits', () => {
  it('FW-LIMIT-1: an OPEN beyond our max_concurrent_streams is refused with REFUSED_STREAM, not a crash', async () => {
    const h = await connectedServer({ settings: { maxConcurrentStreams: 2 } });
    h.peer.open(1);
    h.peer.open(3);
    h.peer.open(5);
    h.peer.data(5, 'ignored');
    await flush();
    expect(errorCodes(h.transport.frames, 5)).toEqual(['REFUSED_STREAM']);
    expect(h.accepted.map((s) => s.id)).toEqual([1, 3]);
    expectStillOpen(h);
    expect(h.session.bufferedBytes).toBe(0);
    // A freed slot takes the next OPEN.
    h.peer.cancel(1);
    h.peer.open(7);
    await flush();
    expect(h.accepted.map((s) => s.id)).toEqual([1, 3, 7]);
    expect(errorCodes(h.transport.frames, 7)).toEqual([]);
  });

  it('FW-LIMIT-1: our open() beyond the peer max_concurrent_streams waits for a free slot', async () => {
    const h = await connectedClient({}, { maxConcurrentStreams: 1 });
    const a = h.session.open({ kind: 'a' });
    const b = h.session.open({ kind: 'b' });
    void b.write(new Uint8Array(5));
    await flush();
    expect(ofType(h.transport.frames, FrameType.OPEN).map((f) => f.stream)).toEqual([a.id]);
    expect(h.transport.frames.filter((f) => f.stream === b.id)).toEqual([]);
    await a.end();
    h.peer.done(a.id);
    await flush();
    expect(ofType(h.transport.frames, FrameType.OPEN).map((f) => f.stream)).toEqual([a.id, b.id]);
    expect(h.transport.frames.filter((f) => f.stream === b.id).map((f) => f.type)).toEqual([FrameType.OPEN, FrameType.DATA]);
  });

  it('FW-LIMIT-5: more than maxPendingOpens waiting opens is LIMIT_EXCEEDED (retryable)', async () => {
    const h = await connectedClient({ limits: { maxPendingOpens: 2 } }, { maxConcurrentStreams: 1 });
    h.session.open({ kind: 'sent' });
    h.session.open({ kind: 'waits' });
    h.session.open({ kind: 'waits' });
    let caught: unknown;
    try {
      h.session.open({ kind: 'one too many' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'LIMIT_EXCEEDED', retryable: true });
    expectStillOpen(h);
  });

  it('FW-LIMIT-5: a waiting open that is cancelled frees its place and never sends OPEN', async () => {
    const h = await connectedClient({ limits: { maxPendingOpens: 1 } }, { maxConcurrentStreams: 1 });
    const a = h.session.open({ kind: 'sent' });
    const waiting = h.session.open({ kind: 'waits' });
    waiting.cancel();
    const next = h.session.open({ kind: 'waits' });
    await a.end();
    h.peer.done(a.id);
    await flush();
    expect(ofType(h.transport.frames, FrameType.OPEN).map((f) => f.stream)).toEqual([a.id, next.id]);
    expect(h.transport.frames.filter((f) => f.stream === waiting.id)).toEqual([]);
  });
});

describe('flood defences', () => {
  it('FW-LIMIT-2: a rapid open-then-cancel flood is ENHANCE_YOUR_CALM, and memory stays bounded meanwhile', async () => {
    const h = await connectedServer({ limits: { resetBurst: 50, resetRatePerSecond: 10 } });
    let maxActive = 0;
    let id = 1;
    for (; id < 1000 && !h.transport.closed; id += 2) {
      h.peer.open(id);
      h.peer.data(id, 100);
      h.peer.cancel(id);
      maxActive = Math.max(maxActive, h.session.activeStreams);
    }
    expect(maxActive).toBeLessThanOrEqual(1);
    expect((id - 1) / 2).toBe(51);
    await expectConnectionError(h, 'ENHANCE_YOUR_CALM');
  });

  it('FW-LIMIT-2: cancels at a sustainable rate are fine', async () => {
    const h = await connectedServer({ limits: { resetBurst: 5, resetRatePerSecond: 10 } });
    for (let id = 1; id < 200; id += 2) {
      h.peer.open(id);
      h.peer.cancel(id);
      h.clock.advance(100);
    }
    await flush();
    expectStillOpen(h);
    expect(h.session.activeStreams).toBe(0);
  });

  it('FW-LIMIT-2: OPENs we keep having to refuse count too', async () => {
    const h = await connectedServer({ settings: { maxConcurrentStreams: 0 }, limits: { resetBurst: 10 } });
    for (let id = 1; id <= 21; id += 2) h.peer.open(id);
    await expectConnectionError(h, 'ENHANCE_YOUR_CALM');
  });

  it('FW-LIMIT-3: a PING flood is ENHANCE_YOUR_CALM', async () => {
    const h = await connectedServer({ limits: { pingBurst: 10, pingRatePerSecond: 1 } });
    for (let i = 0; i < 10; i++) h.peer.ping();
    await flush();
    expectStillOpen(h);
    h.peer.ping();
    await expectConnectionError(h, 'ENHANCE_YOUR_CALM');
  });

  it('FW-LIMIT-3: PING ACKs are not counted', async () => {
    const h = await connectedServer({ limits: { pingBurst: 10, pingRatePerSecond: 1 } });
    for (let i = 0; i < 100; i++) h.peer.ping(new Uint8Array(8), true);
    await flush();
    expectStillOpen(h);
  });

  it('FW-LIMIT-4: an empty DATA flood is ENHANCE_YOUR_CALM', async () => {
    const h = await connectedServer({ limits: { emptyFrameBurst: 20, emptyFrameRatePerSecond: 1 } });
    h.peer.open(1);
    for (let i = 0; i < 20; i++) h.peer.data(1, 0);
    await flush();
    expectStillOpen(h);
    h.peer.data(1, 0);
    await expectConnectionError(h, 'ENHANCE_YOUR_CALM');
  });

  it('FW-LIMIT-5: a control queue that overflows (a peer that makes us answer faster than we write) is LIMIT_EXCEEDED', async () => {
    const h = await connectedServer({ limits: { maxControlQueue: 8 } });
    // Fed synchronously: the pump has no chance to write between them.
    for (let i = 0; i < 9; i++) h.peer.ping();
    await expectConnectionError(h, 'LIMIT_EXCEEDED');
  });
});

describe('malformed control payloads', () => {
  it('FW-CTRL-1: an OPEN that is not MessagePack is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.OPEN, 1, BAD_MSGPACK);
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
    expect(h.accepted).toEqual([]);
  });

  it('FW-OPEN-1/FW-CTRL-9: an OPEN without its required kind is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.OPEN, 1, encodeControl({ target: 'x' }));
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });

  it('FW-CTRL-1: a stream ERROR that is not MessagePack is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.send(FrameType.ERROR, 1, BAD_MSGPACK);
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });

  it('FW-CTRL-1: a connection ERROR that is not MessagePack is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.ERROR, 0, BAD_MSGPACK);
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });

  it('FW-GOAWAY-1: a GOAWAY that is not MessagePack, or lacks last_stream, is MALFORMED_PAYLOAD', async () => {
    const h = await connectedClient();
    h.peer.send(FrameType.GOAWAY, 0, BAD_MSGPACK);
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
    const h2 = await connectedClient();
    h2.peer.send(FrameType.GOAWAY, 0, encodeControl({ code: 0 }));
    await expectConnectionError(h2, 'MALFORMED_PAYLOAD');
  });

  it('FW-CTRL-1: a DONE trailer that is not a map is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.send(FrameType.DONE, 1, Uint8Array.of(0x93, 1, 2, 3));
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });

  it('FW-FRAME-8: a PING that is not 8 bytes is FRAME_SIZE', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.PING, 0, new Uint8Array(7));
    await expectConnectionError(h, 'FRAME_SIZE');
  });
});

/** Sequence numbers, stream ids, stream outcomes and messages (spec §3.4, §8.2) against a scripted peer. */

import { describe, expect, it } from 'vitest';
import { DataFlags, encodeOpenPayload, FrameType, type Frame } from '../../src/wire/index.ts';
import {
  bytes,
  connectedClient,
  connectedServer,
  dataFrames,
  errorCodes,
  expectConnectionError,
  expectStillOpen,
  flush,
  ofType,
  readAll,
  text,
} from './helpers.ts';

const F = DataFlags.FOLLOWS;

function seqsByStream(frames: readonly Frame[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const f of frames) m.set(f.stream, [...(m.get(f.stream) ?? []), f.seq]);
  return m;
}

describe('sequence numbers', () => {
  it('FW-SEQ-1: our frames carry seq 0, 1, 2 … per stream, stream 0 included', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    h.peer.ping();
    const a = h.session.open({ kind: 'a' });
    const b = h.session.open({ kind: 'b' });
    void a.write(bytes(3000));
    void b.write(bytes(10));
    void a.end();
    void b.end();
    await flush();
    h.peer.ping();
    await flush();
    for (const [, seqs] of seqsByStream(h.transport.frames)) {
      expect(seqs).toEqual(seqs.map((_, i) => i));
    }
    const all = seqsByStream(h.transport.frames);
    // Stream 0: HELLO 0, first PING 1, then the two PING answers.
    expect(all.get(0)).toEqual([0, 1, 2, 3]);
    expect(all.get(1)).toEqual([0, 1, 2, 3, 4]);
    expect(all.get(3)).toEqual([0, 1, 2]);
  });

  it('FW-SEQ-2: a gap on stream 0 is SEQ_ERROR', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.PING, 0, new Uint8Array(8), 0, 5);
    await expectConnectionError(h, 'SEQ_ERROR');
  });

  it('FW-SEQ-2: a repeat on stream 0 is SEQ_ERROR', async () => {
    const h = await connectedServer();
    h.peer.send(FrameType.PING, 0, new Uint8Array(8), 0, 0);
    await expectConnectionError(h, 'SEQ_ERROR');
  });

  it('FW-SEQ-2: a gap on a stream is SEQ_ERROR', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.send(FrameType.DATA, 1, bytes(4), 0, 2);
    await expectConnectionError(h, 'SEQ_ERROR');
  });

  it('FW-SEQ-2: a repeat on a stream is SEQ_ERROR', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(1, 'x');
    h.peer.send(FrameType.DATA, 1, bytes(4), 0, 1);
    await expectConnectionError(h, 'SEQ_ERROR');
  });

  it('FW-SEQ-2: an OPEN whose seq is not 0 is SEQ_ERROR', async () => {
    const h = await connectedServer();
    h.peer.nextSeq(1);
    h.peer.open(1);
    await expectConnectionError(h, 'SEQ_ERROR');
  });
});

describe('stream ids', () => {
  it('FW-STREAM-1: the client opens odd ids, the server even ids, both increasing', async () => {
    const c = await connectedClient();
    expect([c.session.open({ kind: 'k' }).id, c.session.open({ kind: 'k' }).id, c.session.open({ kind: 'k' }).id]).toEqual([1, 3, 5]);
    const s = await connectedServer();
    expect([s.session.open({ kind: 'k' }).id, s.session.open({ kind: 'k' }).id]).toEqual([2, 4]);
    await flush();
    expect(ofType(s.transport.frames, FrameType.OPEN).map((f) => [f.stream, f.seq])).toEqual([[2, 0], [4, 0]]);
  });

  it('FW-STREAM-2: an OPEN with the wrong parity is STREAM_ID', async () => {
    const h = await connectedServer();
    h.peer.open(2);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-STREAM-2: a client receiving an odd-id OPEN is STREAM_ID', async () => {
    const h = await connectedClient();
    h.peer.open(1);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-STREAM-2: an OPEN id not above the previous one is STREAM_ID', async () => {
    const h = await connectedServer();
    h.peer.open(5);
    h.peer.open(3);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-STREAM-2: an OPEN reusing a closed id is STREAM_ID', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.cancel(1);
    await flush();
    h.peer.send(FrameType.OPEN, 1, encodeOpenPayload({ kind: 'again' }), 0, 0);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-FRAME-4: the payload is parsed before session rules, so a malformed OPEN on a reused id is MALFORMED_PAYLOAD', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.cancel(1);
    await flush();
    h.peer.send(FrameType.OPEN, 1, new Uint8Array(), 0, 0);
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });

  it('FW-STREAM-2: an OPEN for a stream that is open is STREAM_ID, numbered as a fresh OPEN (seq 0)', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    h.peer.send(FrameType.OPEN, 1, encodeOpenPayload({ kind: 'again' }), 0, 0);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-STREAM-2: an OPEN for a stream that is open is STREAM_ID, numbered in sequence', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.open(1);
    await expectConnectionError(h, 'STREAM_ID');
  });

  it('FW-STREAM-11: a frame on a never-opened peer id is PROTOCOL_ERROR', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(7, 'x');
    await expectConnectionError(h, 'PROTOCOL_ERROR');
  });

  it('FW-STREAM-11: a frame on one of our ids we never opened is PROTOCOL_ERROR', async () => {
    const h = await connectedClient();
    h.peer.credit(9, 1000);
    await expectConnectionError(h, 'PROTOCOL_ERROR');
  });

  it('FW-STREAM-11: a frame on our own stream whose OPEN is still waiting for a slot is PROTOCOL_ERROR', async () => {
    const h = await connectedClient({}, { maxConcurrentStreams: 1 });
    h.session.open({ kind: 'a' });
    const waiting = h.session.open({ kind: 'b' });
    await flush();
    h.peer.data(waiting.id, 'never asked for');
    await expectConnectionError(h, 'PROTOCOL_ERROR');
    expect(await waiting.outcome).toMatchObject({ status: 'failed' });
  });

  it('FW-STREAM-12: frames on a fully closed stream are ignored', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    void s.end();
    await flush();
    h.peer.done(1);
    expect((await s.outcome).status).toBe('completed');
    await flush();
    h.peer.credit(1, 999_999);
    h.peer.send(FrameType.ACK, 1, Uint8Array.of(0, 0, 0, 1));
    h.peer.done(1);
    h.peer.send(FrameType.DATA, 1, bytes(10), 0, 77);
    await flush();
    expectStillOpen(h);
    expect(h.session.activeStreams).toBe(0);
  });
});

describe('outcomes', () => {
  it('FW-STREAM-6: DONE both ways completes the stream, with the peer trailer', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes('hi'));
    const ended = s.end({ digest: 'abc' });
    await ended;
    const done = ofType(h.transport.frames, FrameType.DONE, 1);
    expect(done.map((f) => f.payload.trailer)).toEqual([{ digest: 'abc' }]);
    let settled = false;
    void s.outcome.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    h.peer.data(1, 'back');
    h.peer.done(1, { n: 1 });
    expect(await s.outcome).toEqual({ status: 'completed', trailer: { n: 1 } });
    expect(s.trailer).toEqual({ n: 1 });
    expect(text((await s.read())!)).toBe('back');
    expect(s.signal.aborted).toBe(false);
  });

  it('FW-STREAM-5: a peer ERROR fails the stream with a remote error carrying code, retryable and retryAfterMs', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    await flush();
    h.peer.error(1, 'LIMIT_EXCEEDED', 'slow down', { retryable: false, retryAfterMs: 1500, details: { queue: 7 } });
    const o = await s.outcome;
    expect(o.status).toBe('failed');
    if (o.status === 'completed') throw new Error('unreachable');
    expect(o.error).toMatchObject({ code: 'LIMIT_EXCEEDED', remote: true, retryable: false, retryAfterMs: 1500, streamId: 1, details: { queue: 7 } });
    expect(s.signal.aborted).toBe(true);
    expectStillOpen(h);
  });

  it('FW-CONN-3: local fail() sends ERROR on the stream and the connection continues', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    h.accepted[0]!.fail('NOT_FOUND', 'no such thing', { details: { what: 'x' }, retryAfterMs: 250 });
    await flush();
    const err = ofType(h.transport.frames, FrameType.ERROR, 1);
    expect(errorCodes(h.transport.frames, 1)).toEqual(['NOT_FOUND']);
    expect(err[0]!.payload).toMatchObject({ message: 'no such thing', details: { what: 'x' }, retryAfterMs: 250 });
    expect(err[0]!.seq).toBe(0);
    const o = await h.accepted[0]!.outcome;
    expect(o).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND', remote: false } });
    expectStillOpen(h);
  });

  it('FW-STREAM-5: cancel() sends CANCEL ahead of queued data and drops that data', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 1024 });
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes(5000));
    await flush();
    expect(h.transport.take().map((f) => [f.type, f.payload instanceof Uint8Array ? f.payload.length : -1])).toEqual([
      [FrameType.OPEN, -1],
      [FrameType.DATA, 1024],
    ]);
    s.cancel('changed my mind');
    h.peer.credit(1, 1_000_000);
    await flush();
    const after = h.transport.take();
    expect(after.map((f) => f.type)).toEqual([FrameType.CANCEL]);
    expect(s.queuedBytes).toBe(0);
    expect(await s.outcome).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    await expect(s.write(bytes(1))).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('FW-STREAM-5: a peer CANCEL cancels the stream and aborts its signal', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    const s = h.accepted[0]!;
    void s.write(bytes(100));
    h.peer.cancel(1, 'bye');
    expect(s.signal.aborted).toBe(true);
    expect(await s.outcome).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED', remote: true } });
    await flush();
    // Neither answered nor followed by data.
    expect(h.transport.frames.filter((f) => f.stream === 1)).toEqual([]);
  });

  it('FW-STREAM-5: nothing is sent on a stream after the peer CANCEL, not even an ACK queued before it', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(1, 'x');
    await flush();
    const s = h.accepted[0]!;
    s.ack(1);
    h.peer.cancel(1);
    await flush();
    expect(h.transport.frames.filter((f) => f.stream === 1)).toEqual([]);
  });

  it('FW-STREAM-9: ack() sends ACK with the seq processed', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(1, 'x');
    await flush();
    h.accepted[0]!.ack(1);
    await flush();
    expect(ofType(h.transport.frames, FrameType.ACK, 1).map((f) => f.payload)).toEqual([1]);
    // And the peer's ACK is visible on our stream.
    const c = await connectedClient();
    const s = c.session.open({ kind: 'k' });
    await flush();
    c.peer.send(FrameType.ACK, s.id, Uint8Array.of(0, 0, 0, 4));
    expect(s.lastAck).toBe(4);
  });

  it('FW-STREAM-6: the first decisive event wins and the outcome resolves exactly once', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    const outcomes: string[] = [];
    void s.outcome.then((o) => outcomes.push(o.status));
    await flush();
    s.cancel();
    h.peer.error(1, 'INTERNAL');
    s.fail('INTERNAL', 'too late');
    h.peer.done(1);
    await flush();
    expect(outcomes).toEqual(['cancelled']);
    expect(errorCodes(h.transport.frames, 1)).toEqual([]);
    // A completed stream stays completed.
    const t = h.session.open({ kind: 'k' });
    await t.end();
    h.peer.done(t.id);
    expect((await t.outcome).status).toBe('completed');
    t.cancel();
    t.fail('INTERNAL', 'x');
    await flush();
    expect((await t.outcome).status).toBe('completed');
    expect(ofType(h.transport.frames, FrameType.CANCEL, t.id)).toEqual([]);
  });

  it('FW-STREAM-4: write() and end() after end() reject with STREAM_CLOSED (never throw: they return promises)', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    void s.end();
    let write: Promise<void> | undefined;
    let end: Promise<void> | undefined;
    expect(() => (write = s.write(bytes(1)))).not.toThrow();
    expect(() => (end = s.end())).not.toThrow();
    await expect(write).rejects.toMatchObject({ code: 'STREAM_CLOSED' });
    await expect(end).rejects.toMatchObject({ code: 'STREAM_CLOSED' });
    expect(() => s.send(bytes(1))).toThrow(expect.objectContaining({ code: 'STREAM_CLOSED' }));
  });

  it('FW-STREAM-7: DATA after the peer DONE is a STREAM_CLOSED stream error', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.done(1);
    h.peer.data(1, 'late');
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual(['STREAM_CLOSED']);
    expect(await h.accepted[0]!.outcome).toMatchObject({ status: 'failed', error: { code: 'STREAM_CLOSED' } });
    expectStillOpen(h);
    expect(h.session.bufferedBytes).toBe(0);
  });

  it('FW-STREAM-4: a second DONE from the peer is ignored while our direction is open', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.done(1);
    h.peer.done(1);
    await flush();
    expectStillOpen(h);
    const s = h.accepted[0]!;
    expect(s.ended).toBe(false);
    await s.end();
    expect((await s.outcome).status).toBe('completed');
  });

  it('FW-STREAM-15: DONE inside an unfinished message is a PROTOCOL_ERROR stream error', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(1, 'part', F);
    h.peer.done(1);
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual(['PROTOCOL_ERROR']);
    expect((await h.accepted[0]!.outcome).status).toBe('failed');
    expectStillOpen(h);
  });

  it('FW-STREAM-14: a message over max_message_size is MESSAGE_TOO_LARGE as soon as the sum exceeds it', async () => {
    const h = await connectedServer({ settings: { maxMessageSize: 2000 } });
    h.peer.open(1);
    h.peer.data(1, 1500);
    h.peer.data(1, 1500, F);
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual([]);
    h.peer.data(1, 1000, F);
    await flush();
    expect(errorCodes(h.transport.frames, 1)).toEqual(['MESSAGE_TOO_LARGE']);
    expect(await h.accepted[0]!.outcome).toMatchObject({ status: 'failed', error: { code: 'MESSAGE_TOO_LARGE' } });
    expectStillOpen(h);
    // FW-FLOW-7: nothing of the failed stream stays charged to the connection window.
    expect(h.session.bufferedBytes).toBe(0);
  });

  it('FW-CONN-4/FW-CONN-5: a lost transport fails open streams with CONNECTION_LOST (retryable), never completed', async () => {
    const h = await connectedClient();
    const plain = h.session.open({ kind: 'plain' });
    const sentDone = h.session.open({ kind: 'sent-done' });
    const gotDone = h.session.open({ kind: 'got-done' });
    await sentDone.end();
    h.peer.data(gotDone.id, 'all of it');
    h.peer.done(gotDone.id);
    h.session.transportClosed(new Error('socket reset'));
    for (const s of [plain, sentDone, gotDone]) {
      const o = await s.outcome;
      expect(o).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_LOST', retryable: true } });
      expect(s.signal.aborted).toBe(true);
    }
    expect((await plain.outcome).status === 'failed' && (await plain.outcome)).toMatchObject({ error: { details: { processed: 'unknown' } } });
    expect((await h.session.closed).error?.code).toBe('CONNECTION_LOST');
    // open() on the dead session says why it died, so a caller knows a new connection may help.
    expect(() => h.session.open({ kind: 'k' })).toThrow(expect.objectContaining({ code: 'CONNECTION_LOST', retryable: true }));
  });

  it('FW-STREAM-6: what the peer sent before its DONE stays readable when the stream later fails', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    await new Promise((r) => setImmediate(r));
    h.peer.data(s.id, 'one');
    h.peer.data(s.id, 'two');
    h.peer.done(s.id);
    await new Promise((r) => setImmediate(r));
    h.session.transportClosed(new Error('socket reset'));
    expect((await s.outcome).status).toBe('failed');
    const read: string[] = [];
    for await (const m of s) read.push(Buffer.from(m).toString());
    expect(read).toEqual(['one', 'two']);
  });

  it('FW-STREAM-6: data of a direction that never ended is dropped, and the reader gets the error', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    await new Promise((r) => setImmediate(r));
    h.peer.data(s.id, 'partial');
    await new Promise((r) => setImmediate(r));
    h.session.transportClosed(new Error('socket reset'));
    await expect((async () => {
      for await (const _m of s) { /* drain */ }
    })()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });

  it('FW-CONN-2: a peer ERROR on stream 0 fails every stream with its code (remote) and closes the transport', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    await flush();
    const before = h.transport.frames.length;
    h.peer.error(0, 'ENHANCE_YOUR_CALM', 'go away');
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'ENHANCE_YOUR_CALM', remote: true } });
    expect((await h.session.closed).error).toMatchObject({ code: 'ENHANCE_YOUR_CALM', remote: true });
    await flush();
    expect(h.transport.frames.length).toBe(before);
    expect(h.transport.closed).toBe(true);
  });
});

describe('messages', () => {
  it('FW-SCHED-5/FW-STREAM-13: a write above the peer max_frame_payload is cut, FOLLOWS on all but the last frame', async () => {
    const h = await connectedClient({}, { maxFramePayload: 1024 });
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes(2500));
    void s.write(bytes(10));
    await flush();
    expect(dataFrames(h.transport.frames, 1).map((f) => [f.payload.length, f.flags])).toEqual([
      [1024, F],
      [1024, F],
      [452, 0],
      [10, 0],
    ]);
  });

  it('FW-STREAM-13: write(…, { endOfMessage: false }) continues one message across writes', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    void s.write(bytes('ab'), { endOfMessage: false });
    void s.write(bytes('cd'));
    await flush();
    expect(dataFrames(h.transport.frames, 1).map((f) => f.flags)).toEqual([F, 0]);
  });

  it('FW-STREAM-13: the iterator reassembles FOLLOWS chains into whole messages; chunks() yields the pieces', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.data(1, 'he', F);
    h.peer.data(1, 'll', F);
    h.peer.data(1, 'o');
    h.peer.data(1, 'world');
    h.peer.data(1, '', 0);
    h.peer.done(1);
    expect((await readAll(h.accepted[0]!)).map(text)).toEqual(['hello', 'world', '']);

    h.peer.open(3);
    h.peer.data(3, 'he', F);
    h.peer.data(3, 'llo');
    h.peer.done(3);
    const pieces: string[] = [];
    for await (const c of h.accepted[1]!.chunks()) pieces.push(text(c));
    expect(pieces).toEqual(['he', 'llo']);
  });

  it('FW-STREAM-13: an empty write is one zero-length DATA frame with FOLLOWS clear', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 0 });
    const s = h.session.open({ kind: 'k' });
    void s.write(new Uint8Array(0));
    await flush();
    // Zero-length DATA needs no credit (FW-FLOW-1).
    expect(dataFrames(h.transport.frames, 1).map((f) => [f.payload.length, f.flags])).toEqual([[0, 0]]);
  });
});

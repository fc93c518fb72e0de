/** GOAWAY (spec §8.6): sending it, receiving it, deadlines and the last_stream rule. */

import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/wire/index.ts';
import { connectedClient, connectedServer, errorCodes, expectConnectionError, expectStillOpen, flush, ofType, readAll, RecordingTransport, text } from './helpers.ts';

describe('GOAWAY sent', () => {
  it('FW-GOAWAY-2/FW-GOAWAY-4: refuses later OPENs, lets in-flight streams finish, then closes the transport', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    h.peer.open(3);
    await flush();
    const [s1, s3] = h.accepted as [NonNullable<(typeof h.accepted)[0]>, NonNullable<(typeof h.accepted)[0]>];
    let drained = false;
    const going = h.session.goaway({ message: 'maintenance' }).then(() => (drained = true));
    await flush();
    const goaway = ofType(h.transport.frames, FrameType.GOAWAY);
    expect(goaway.map((f) => f.payload)).toEqual([expect.objectContaining({ lastStream: 3, code: 0, message: 'maintenance' })]);
    expect(h.session.isOpen).toBe(false);

    h.peer.open(5);
    await flush();
    expect(errorCodes(h.transport.frames, 5)).toEqual(['REFUSED_STREAM']);
    expect(ofType(h.transport.frames, FrameType.ERROR, 5)[0]!.seq).toBe(0);
    expect(h.accepted).toHaveLength(2);

    // In-flight streams still work both ways.
    h.peer.data(1, 'still here');
    h.peer.done(1);
    expect((await readAll(s1)).map(text)).toEqual(['still here']);
    await s1.end();
    expect((await s1.outcome).status).toBe('completed');
    await flush();
    expect(h.transport.closed).toBe(false);
    expect(drained).toBe(false);

    await s3.end();
    h.peer.done(3);
    expect((await s3.outcome).status).toBe('completed');
    await going;
    expect(h.transport.closed).toBe(true);
    expect((await h.session.closed).error).toBeUndefined();
  });

  it('FW-GOAWAY-6: after goaway() our own open() throws REFUSED_STREAM', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    void h.session.goaway();
    expect(() => h.session.open({ kind: 'k' })).toThrow(expect.objectContaining({ code: 'REFUSED_STREAM' }));
  });

  it('FW-GOAWAY-4: at the deadline the remaining streams fail with TIMEOUT and the transport closes', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    const going = h.session.goaway({ deadlineMs: 1000 });
    h.clock.advance(999);
    await flush();
    expect(h.transport.closed).toBe(false);
    h.clock.advance(1);
    await going;
    expect(await h.accepted[0]!.outcome).toMatchObject({ status: 'failed', error: { code: 'TIMEOUT', retryable: true } });
    expect(errorCodes(h.transport.frames, 1)).toEqual(['TIMEOUT']);
    expect(ofType(h.transport.frames, FrameType.GOAWAY)[0]!.payload.deadlineMs).toBe(1000);
    expect(h.transport.closed).toBe(true);
    expect(h.transport.lateWrites).toEqual([]);
  });

  it('FW-GOAWAY-4: with nothing in flight the transport closes right after the GOAWAY', async () => {
    const h = await connectedServer();
    await h.session.goaway();
    expect(ofType(h.transport.frames, FrameType.GOAWAY).map((f) => f.payload.lastStream)).toEqual([0]);
    expect(h.transport.closed).toBe(true);
  });
});

describe('GOAWAY received', () => {
  it('FW-GOAWAY-3: our streams above last_stream fail with REFUSED_STREAM (processed: no); open() then throws', async () => {
    const h = await connectedClient();
    const [a, b, c] = [h.session.open({ kind: 'k' }), h.session.open({ kind: 'k' }), h.session.open({ kind: 'k' })];
    await flush();
    h.transport.take();
    h.peer.goaway(3);
    expect(await c.outcome).toMatchObject({ status: 'failed', error: { code: 'REFUSED_STREAM', retryable: true, details: { processed: 'no' } } });
    expect(a.ended || b.ended).toBe(false);
    expect(() => h.session.open({ kind: 'k' })).toThrow(expect.objectContaining({ code: 'REFUSED_STREAM' }));
    // Nothing is sent for the refused stream: the peer dropped it already.
    await flush();
    expect(h.transport.take().filter((f) => f.stream === c.id)).toEqual([]);

    // Streams up to last_stream run to completion.
    for (const s of [a, b]) {
      await s.end();
      h.peer.done(s.id);
      expect((await s.outcome).status).toBe('completed');
    }
    await flush();
    expect(h.transport.closed).toBe(true);
    expect((await h.session.closed).error).toBeUndefined();
  });

  it('FW-GOAWAY-3: streams still waiting to be opened are refused as well', async () => {
    const h = await connectedClient({}, { maxConcurrentStreams: 1 });
    const a = h.session.open({ kind: 'k' });
    const waiting = h.session.open({ kind: 'k' });
    await flush();
    h.peer.goaway(1);
    expect(await waiting.outcome).toMatchObject({ status: 'failed', error: { code: 'REFUSED_STREAM', details: { processed: 'no' } } });
    expect(a.ended).toBe(false);
    await flush();
    expect(ofType(h.transport.frames, FrameType.OPEN).map((f) => f.stream)).toEqual([1]);
  });

  it('FW-GOAWAY-5: a later GOAWAY may lower last_stream', async () => {
    const h = await connectedClient();
    const [a, b] = [h.session.open({ kind: 'k' }), h.session.open({ kind: 'k' })];
    await flush();
    h.peer.goaway(0xffff_ffff);
    expect(a.ended || b.ended).toBe(false);
    h.peer.goaway(1);
    expect((await b.outcome).status).toBe('failed');
    expect(a.ended).toBe(false);
    expectStillOpen(h);
  });

  it('FW-GOAWAY-5: a GOAWAY whose last_stream grows is PROTOCOL_ERROR', async () => {
    const h = await connectedClient();
    h.session.open({ kind: 'k' });
    await flush();
    h.peer.goaway(1);
    h.peer.goaway(3);
    await expectConnectionError(h, 'PROTOCOL_ERROR');
  });

  it('FW-CONN-4: a transport lost after a received GOAWAY fails the rest with CONNECTION_LOST', async () => {
    const h = await connectedClient();
    const a = h.session.open({ kind: 'k' });
    await flush();
    h.peer.goaway(1);
    h.session.transportClosed();
    expect(await a.outcome).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_LOST', details: { processed: 'unknown' } } });
  });
});

/** A transport that keeps no order across streams, as QUIC's (spec §14.2). */
class UnorderedTransport extends RecordingTransport {
  readonly goawayCloseWaitMs = 2000;
}

describe('GOAWAY received over a transport without order across streams (FW-QUIC-12)', () => {
  it('FW-QUIC-12: with no stream left the receiver leaves the close to the sender for goawayCloseWaitMs, serves an OPEN read meanwhile, then closes itself', async () => {
    const h = await connectedServer({}, {}, { transport: new UnorderedTransport() });
    h.peer.goaway(0);
    await flush();
    expect(h.transport.closed).toBe(false);
    // The sender's OPEN, written before its GOAWAY, is read after it.
    h.clock.advance(1000);
    h.peer.open(1);
    h.peer.data(1, 'written before the GOAWAY');
    h.peer.done(1);
    await flush();
    const late = h.accepted[0]!;
    expect((await readAll(late)).map(text)).toEqual(['written before the GOAWAY']);
    // The first wait ends while the stream is open: nothing closes.
    h.clock.advance(1500);
    await flush();
    expect(h.transport.closed).toBe(false);
    await late.end();
    expect((await late.outcome).status).toBe('completed');
    // A new wait starts when the last stream ended: at the limit, and not before, the receiver closes.
    h.clock.advance(1999);
    await flush();
    expect(h.transport.closed).toBe(false);
    h.clock.advance(1);
    await flush();
    expect(h.transport.closed).toBe(true);
    expect((await h.session.closed).error).toBeUndefined();
  });

  it('FW-QUIC-12: the sender closing within the wait is a clean end', async () => {
    const h = await connectedClient({}, {}, { transport: new UnorderedTransport() });
    h.peer.goaway(0);
    h.clock.advance(100);
    await flush();
    expect(h.transport.closed).toBe(false);
    h.session.transportClosed();
    expect((await h.session.closed).error).toBeUndefined();
  });

  it('FW-GOAWAY-4: a receiver that sent its own GOAWAY closes as its sender, at once', async () => {
    const h = await connectedServer({}, {}, { transport: new UnorderedTransport() });
    h.peer.goaway(0);
    await flush();
    await h.session.goaway();
    expect(h.transport.closed).toBe(true);
  });

  it('§8.6 MAY: over an ordered transport the receiver closes as soon as no stream is left', async () => {
    const h = await connectedServer();
    h.peer.goaway(0);
    await flush();
    expect(h.transport.closed).toBe(true);
  });
});

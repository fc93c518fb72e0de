/**
 * Issue 12, items 4 and 12: deadlines on progress, not on bytes. A frame in progress must be
 * complete within limits.frameTimeoutMs (FW-LIMIT-6), whatever trickles meanwhile; a connection
 * with no open stream is closed with GOAWAY after limits.unusedConnectionTimeoutMs (FW-LIMIT-7),
 * however often the peer pings.
 */

import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/wire/index.ts';
import { codeOf, connectedServer, expectConnectionError, expectStillOpen, flush, ofType, type Harness } from './helpers.ts';

/** Pretends the transport holds `bytes` of a frame, and `frames` complete ones so far. */
function partial(h: Harness, bytes: number, frames: number): void {
  Object.assign(h.transport, { partialFrameBytes: bytes, framesDecoded: frames });
}

describe('frame deadline (FW-LIMIT-6)', () => {
  it('a frame left incomplete past frameTimeoutMs is a TIMEOUT connection error, even while other bytes trickle in', async () => {
    const h = await connectedServer({ limits: { frameTimeoutMs: 1000 } });
    partial(h, 20, 3);
    for (let t = 0; t < 9; t++) {
      // One more byte of the same frame every 100 ms: no frame completes.
      partial(h, 21 + t, 3);
      h.clock.advance(100);
    }
    expectStillOpen(h);
    h.clock.advance(1000);
    await expectConnectionError(h, 'TIMEOUT');
    expect(ofType(h.transport.frames, FrameType.ERROR, 0)[0]!.payload.message).toMatch(/not completed within 1000 ms/);
  });

  it('frames that keep completing never time out, however long the transfer', async () => {
    const h = await connectedServer({ limits: { frameTimeoutMs: 1000 } });
    for (let i = 0; i < 50; i++) {
      partial(h, 500, 10 + i);
      h.clock.advance(400);
    }
    partial(h, 0, 60);
    h.clock.advance(5000);
    expectStillOpen(h);
  });

  it('frameTimeoutMs 0 turns the deadline off', async () => {
    const h = await connectedServer({ limits: { frameTimeoutMs: 0 }, settings: { idleTimeoutMs: 0 } });
    partial(h, 20, 3);
    h.clock.advance(60_000);
    expectStillOpen(h);
  });
});

describe('unused-connection deadline (FW-LIMIT-7)', () => {
  it('a connection with no open stream is closed with GOAWAY at the deadline, however often the peer pings', async () => {
    const h = await connectedServer({ limits: { unusedConnectionTimeoutMs: 2000 } });
    for (let t = 0; t < 15; t++) {
      h.peer.ping();
      h.clock.advance(100);
    }
    await flush();
    expect(ofType(h.transport.frames, FrameType.GOAWAY)).toEqual([]);
    h.clock.advance(1000);
    await flush();
    const goaway = ofType(h.transport.frames, FrameType.GOAWAY);
    expect(goaway.map((f) => f.payload.message)).toEqual(['no stream open for 2000 ms']);
    expect(h.transport.closed).toBe(true);
    expect((await h.session.closed).error).toBeUndefined();
  });

  it('an open stream keeps the connection; the deadline counts again from the moment the last stream is released', async () => {
    const h = await connectedServer({ limits: { unusedConnectionTimeoutMs: 2000 } });
    h.clock.advance(1500);
    h.peer.open(1);
    await flush();
    h.clock.advance(5000);
    await flush();
    expect(ofType(h.transport.frames, FrameType.GOAWAY)).toEqual([]);
    h.accepted[0]!.cancel('done with it');
    await flush();
    h.clock.advance(1500);
    await flush();
    expect(ofType(h.transport.frames, FrameType.GOAWAY)).toEqual([]);
    h.clock.advance(1000);
    await flush();
    expect(ofType(h.transport.frames, FrameType.GOAWAY)).toHaveLength(1);
    expect(ofType(h.transport.frames, FrameType.ERROR, 0).map(codeOf)).toEqual([]);
  });

  it('is off by default for a session (createServer turns it on)', async () => {
    const h = await connectedServer({ settings: { idleTimeoutMs: 0 } });
    h.clock.advance(600_000);
    await flush();
    expectStillOpen(h);
    expect(ofType(h.transport.frames, FrameType.GOAWAY)).toEqual([]);
  });
});

/** Two real sessions joined by an in-memory frame transport: end-to-end semantics without bytes or sockets. */

import { describe, expect, it } from 'vitest';
import { FramewireError } from '../../src/errors.ts';
import type { Stream } from '../../src/session/index.ts';
import { FrameType } from '../../src/wire/index.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { bytes, ofType, pair, readAll, settle, text } from './helpers.ts';

const echo = async (s: Stream): Promise<void> => {
  for await (const m of s) await s.write(m);
  await s.end({ echoed: true });
};

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('paired sessions', () => {
  it('handshake, echo and completion with trailers on both sides', async () => {
    const p = await pair({ onServerStream: echo, client: { auth: 'token' }, server: { authenticate: (c) => ({ c }) } });
    expect(p.server.principal).toEqual({ c: 'token' });
    const s = p.client.open({ kind: 'echo' });
    await s.write(bytes('one'));
    await s.write(bytes('two'));
    await s.write(new Uint8Array(0));
    void s.end({ from: 'client' });
    const got = await readAll(s);
    expect(got.map(text)).toEqual(['one', 'two', '']);
    expect(await s.outcome).toEqual({ status: 'completed', trailer: { echoed: true } });
    await settle();
    expect(p.client.activeStreams).toBe(0);
    expect(p.server.activeStreams).toBe(0);
  });

  it('FW-STREAM-13/FW-SCHED-5: a message larger than the peer max_frame_payload arrives whole', async () => {
    const p = await pair({ server: { settings: { maxFramePayload: 1024 } } });
    const s = p.client.open({ kind: 'big' });
    const big = pattern(5000, 7);
    void s.write(big);
    void s.write(bytes('small'));
    void s.end();
    await settle();
    const r = p.accepted[0]!;
    const msgs = await readAll(r);
    expect(msgs.map((m) => m.length)).toEqual([5000, 5]);
    expect(Buffer.from(msgs[0]!).equals(Buffer.from(big))).toBe(true);
    const frames = ofType(p.clientTransport.sent, FrameType.DATA);
    expect(Math.max(...frames.map((f) => f.payload.length))).toBe(1024);
  });

  it('FW-FLOW-4: a reader that does not read holds the sender at the window; reading releases it', async () => {
    const window = 16 * 1024;
    const p = await pair({ server: { settings: { initialStreamCredit: window, initialConnectionCredit: 2 * window } } });
    const s = p.client.open({ kind: 'bulk' });
    const payload = pattern(256 * 1024, 3);
    let written = false;
    const writing = (async () => {
      for (let at = 0; at < payload.length; at += 8192) await s.write(payload.subarray(at, at + 8192));
      await s.end();
      written = true;
    })();
    await settle(20);
    const r = p.accepted[0]!;
    expect(r.bufferedBytes).toBe(window);
    expect(p.server.bufferedBytes).toBeLessThanOrEqual(2 * window);
    expect(ofType(p.serverTransport.sent, FrameType.CREDIT, r.id)).toEqual([]);
    expect(s.queuedBytes).toBeGreaterThan(0);
    expect(written).toBe(false);

    const chunks: Uint8Array[] = [];
    for await (const c of r.chunks()) {
      chunks.push(c);
      expect(r.bufferedBytes).toBeLessThanOrEqual(window * 2);
    }
    await writing;
    expect(Buffer.concat(chunks).equals(Buffer.from(payload))).toBe(true);
  });

  it('FW-STREAM-5: a cancel on one side cancels the other side and stops its producer', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'feed' });
    void s.write(bytes('hello'));
    await settle();
    const r = p.accepted[0]!;
    r.cancel('enough');
    await settle();
    expect(await s.outcome).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED', remote: true } });
    expect(s.signal.aborted).toBe(true);
    await expect(s.write(bytes('more'))).rejects.toThrow(FramewireError);
    expect(p.client.activeStreams).toBe(0);
    expect(p.server.activeStreams).toBe(0);
  });

  it('FW-STREAM-5: a handler that throws fails the stream on both sides with a coded ERROR', async () => {
    const p = await pair({
      onServerStream: () => {
        throw new FramewireError('FORBIDDEN', 'not for you');
      },
    });
    const s = p.client.open({ kind: 'secret' });
    await settle();
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'FORBIDDEN', remote: true, message: 'not for you' } });
  });

  it('FW-STREAM-5: a handler whose promise rejects fails the stream; a plain Error becomes INTERNAL', async () => {
    // A plain Error from a handler is a bug in it: reported by the guard, sent without its text (FW-SEC-2).
    const reports = expectInternalErrors();
    const p = await pair({
      onServerStream: async () => {
        await Promise.resolve();
        throw new Error('boom');
      },
    });
    const s = p.client.open({ kind: 'k' });
    await settle();
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', remote: true, message: 'internal error' } });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ error: { message: 'boom' }, stream: 1 });
    expect(p.server.stats.internalErrors).toBe(1);
  });

  it('FW-STREAM-8: a session without a stream handler refuses OPENs with REFUSED_STREAM', async () => {
    const p = await pair();
    const s = p.server.open({ kind: 'push' });
    await settle();
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'REFUSED_STREAM', remote: true, retryable: true } });
  });

  it('FW-LIMIT-1: opens beyond the peer max_concurrent_streams queue and all complete', async () => {
    const p = await pair({ onServerStream: echo, server: { settings: { maxConcurrentStreams: 2 } } });
    const streams = Array.from({ length: 6 }, (_, i) => {
      const s = p.client.open({ kind: 'echo' });
      void s.write(bytes(`m${i}`));
      void s.end();
      return s;
    });
    const results = await Promise.all(streams.map(async (s) => (await readAll(s)).map(text)));
    expect(results).toEqual(streams.map((_, i) => [`m${i}`]));
    for (const s of streams) expect((await s.outcome).status).toBe('completed');
    expect(ofType(p.serverTransport.sent, FrameType.ERROR)).toEqual([]);
  });

  it('FW-GOAWAY-4: a server GOAWAY lets the in-flight stream finish, refuses new ones, and both sides end cleanly', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'k' });
    void s.write(bytes('in flight'));
    await settle();
    const going = p.server.goaway();
    await settle();
    expect(() => p.client.open({ kind: 'k' })).toThrow(expect.objectContaining({ code: 'REFUSED_STREAM' }));
    const r = p.accepted[0]!;
    void s.end();
    expect((await readAll(r)).map(text)).toEqual(['in flight']);
    await r.end();
    await going;
    expect((await s.outcome).status).toBe('completed');
    expect((await p.server.closed).error).toBeUndefined();
    expect((await p.client.closed).error).toBeUndefined();
  });

  it('FW-CONN-1/FW-CONN-2: close(error) fails the peer streams with that code (remote)', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'k' });
    await settle();
    p.server.close(new FramewireError('INTERNAL', 'shutting down hard'));
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', remote: true } });
    expect((await p.client.closed).error).toMatchObject({ code: 'INTERNAL', remote: true });
    expect(await p.accepted[0]!.outcome).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', remote: false } });
  });

  it('FW-CONN-4: a transport that dies mid-stream fails both sides with CONNECTION_LOST', async () => {
    const p = await pair();
    const s = p.client.open({ kind: 'k' });
    void s.write(bytes('x'));
    await settle();
    // The client side's transport dies without a word, as a reset socket would.
    p.clientTransport.closed = true;
    p.server.transportClosed(new Error('reset'));
    p.client.transportClosed(new Error('reset'));
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_LOST', retryable: true } });
    expect(await p.accepted[0]!.outcome).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_LOST' } });
  });

  it('FW-HB-1: with both heartbeats on, a quiet connection stays alive past the idle timeout', async () => {
    const settings = { heartbeatIntervalMs: 1000, idleTimeoutMs: 3000 };
    const p = await pair({ client: { settings }, server: { settings } });
    for (let i = 0; i < 40; i++) {
      p.clock.advance(250);
      await settle(3);
    }
    expect(p.client.isOpen && p.server.isOpen).toBe(true);
  });
});

/**
 * Issue 12, items 1, 2, 14: errors arrive one way. Every Promise-returning API rejects and never
 * throws; arguments are encoded and size-checked where they are given (INVALID_ARGUMENT,
 * MESSAGE_TOO_LARGE), never later in the pump where nothing could catch them; and no frame we send
 * exceeds the peer's declared max_frame_payload (FW-FRAME-3).
 */

import { describe, expect, it } from 'vitest';
import { FramewireError } from '../../src/errors.ts';
import { FrameType, MIN_MAX_PAYLOAD, type ControlMap } from '../../src/wire/index.ts';
import { bytes, codeOf, connectedClient, connectedServer, flush, ofType, settle, startClient, trace, type Harness } from './helpers.ts';

const unencodable = { f: (): number => 1 } as unknown as ControlMap;

/** Every frame the session wrote fits `limit`. */
function expectAllFit(h: Harness, limit: number): void {
  expect(h.transport.payloadSizes.length).toBeGreaterThan(0);
  expect(Math.max(...h.transport.payloadSizes)).toBeLessThanOrEqual(limit);
}

describe('promise APIs reject, never throw (item 1)', () => {
  it('write(), end(), drained() and read() on a failed or ended stream return rejected promises', async () => {
    const h = await connectedClient();
    const ended = h.session.open({ kind: 'k' });
    void ended.end();
    const failed = h.session.open({ kind: 'k' });
    failed.fail('CANCELLED', 'gone');
    for (const [name, call, code] of [
      ['write after end()', () => ended.write(bytes(1)), 'STREAM_CLOSED'],
      ['end after end()', () => ended.end(), 'STREAM_CLOSED'],
      ['write after fail()', () => failed.write(bytes(1)), 'CANCELLED'],
      ['end after fail()', () => failed.end(), 'CANCELLED'],
      ['drained after fail()', () => failed.drained(), 'CANCELLED'],
      ['read after fail()', () => failed.read(), 'CANCELLED'],
      ['write of a string', () => h.session.open({ kind: 'k' }).write('text' as never), 'INVALID_ARGUMENT'],
      ['goaway with a bad deadline', () => h.session.goaway({ deadlineMs: -1 }), 'INVALID_ARGUMENT'],
    ] as const) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = call()), name).not.toThrow();
      await expect(p, name).rejects.toMatchObject({ code });
    }
  });

  it('ping() on a closed session rejects with CLOSED', async () => {
    const h = await connectedClient();
    h.session.close();
    let p: Promise<number> | undefined;
    expect(() => (p = h.session.ping())).not.toThrow();
    await expect(p).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('arguments are checked and encoded at the call site (item 2)', () => {
  it('open() with unencodable meta, a bad kind, target or urgency throws INVALID_ARGUMENT and sends nothing; the connection goes on', async () => {
    const h = await connectedClient();
    for (const options of [
      { kind: 'k', meta: unencodable },
      { kind: '' },
      { kind: 'k'.repeat(129) },
      { kind: 7 as unknown as string },
      { kind: 'k', target: 5 as unknown as string },
      { kind: 'k', urgency: 8 },
      { kind: 'k', urgency: 1.5 },
      { kind: 'k', meta: [1, 2] as unknown as ControlMap },
    ]) {
      expect(() => h.session.open(options), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    await settle();
    expect(ofType(h.transport.frames, FrameType.OPEN)).toEqual([]);
    const s = h.session.open({ kind: 'k', meta: { fine: true } });
    await flush();
    expect(ofType(h.transport.take(), FrameType.OPEN).map((f) => f.stream)).toEqual([s.id]);
    expect(h.session.isOpen).toBe(true);
  });

  it('end() with an unencodable trailer rejects with INVALID_ARGUMENT; the stream stays writable and ends cleanly after', async () => {
    const h = await connectedClient();
    const s = h.session.open({ kind: 'k' });
    await expect(s.end(unencodable)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(s.end([1] as unknown as ControlMap)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(s.writable).toBe(true);
    await s.write(bytes('after'));
    const done = s.end({ ok: true });
    await flush();
    await done;
    expect(ofType(h.transport.frames, FrameType.DONE, s.id).map((f) => f.payload.trailer)).toEqual([{ ok: true }]);
    expect(h.session.isOpen).toBe(true);
  });

  it('fail() with an unregistered code, unencodable details or a bad retry hint throws INVALID_ARGUMENT and leaves the stream as it was', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    const s = h.accepted[0]!;
    expect(() => { s.fail('NO_SUCH_CODE' as never, 'x'); }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => { s.fail('INTERNAL', 'x', { details: unencodable }); }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => { s.fail('LIMIT_EXCEEDED', 'x', { retryAfterMs: -5 }); }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(s.ended).toBe(false);
    s.fail('LIMIT_EXCEEDED', 'busy', { retryAfterMs: 100 });
    await flush();
    const errors = ofType(h.transport.frames, FrameType.ERROR, 1);
    expect(errors.map(codeOf)).toEqual(['LIMIT_EXCEEDED']);
    expect(errors[0]!.payload.retryAfterMs).toBe(100);
  });

  it('a local-only code given to fail() goes on the wire as INTERNAL (FW-ERR-2)', async () => {
    const h = await connectedServer();
    h.peer.open(1);
    await flush();
    h.accepted[0]!.fail('CONNECTION_LOST', 'upstream lost');
    await flush();
    expect(ofType(h.transport.frames, FrameType.ERROR, 1).map(codeOf)).toEqual(['INTERNAL']);
  });

  it('close() with a plain Error (not a FramewireError) still sends a coded ERROR', async () => {
    const h = await connectedClient();
    h.session.close(new Error('oops') as unknown as FramewireError);
    const end = await h.session.closed;
    expect(end.error?.code).toBe('INTERNAL');
    expect(ofType(h.transport.frames, FrameType.ERROR, 0).map(codeOf)).toEqual(['INTERNAL']);
  });
});

describe("frames fit the peer's max_frame_payload (item 14, FW-FRAME-3)", () => {
  const small = { maxFramePayload: MIN_MAX_PAYLOAD };

  it('end() with a trailer larger than the peer accepts rejects with MESSAGE_TOO_LARGE at the call site', async () => {
    const h = await connectedClient({}, small);
    const s = h.session.open({ kind: 'k' });
    await expect(s.end({ blob: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', details: { limit: MIN_MAX_PAYLOAD } });
    await s.end({ fits: 'x'.repeat(900) });
    expectAllFit(h, MIN_MAX_PAYLOAD);
  });

  it('open() with meta larger than the peer accepts throws MESSAGE_TOO_LARGE; opened before the handshake, the stream fails instead of sending it', async () => {
    const h = await connectedClient({}, small);
    expect(() => h.session.open({ kind: 'k', meta: { blob: 'x'.repeat(2000) } })).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));

    const early = startClient();
    const s = early.session.open({ kind: 'k', meta: { blob: 'x'.repeat(2000) } });
    early.peer.hello({ settings: small });
    await early.session.ready;
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'MESSAGE_TOO_LARGE' } });
    await settle();
    expect(ofType(early.transport.frames, FrameType.OPEN)).toEqual([]);
    expect(early.session.isOpen).toBe(true);
  });

  it('end() called before the handshake with a trailer too large for the peer: the stream fails, no oversize DONE', async () => {
    const early = startClient();
    const s = early.session.open({ kind: 'k' });
    const done = s.end({ blob: 'x'.repeat(2000) });
    early.peer.hello({ settings: small });
    await early.session.ready;
    await expect(done).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await settle();
    expect(ofType(early.transport.frames, FrameType.DONE)).toEqual([]);
    expectAllFit(early, MIN_MAX_PAYLOAD);
  });

  it('fail() and cancel() with huge texts, and GOAWAY and connection errors with huge messages, are shortened to fit', async () => {
    const h = await connectedServer({}, small);
    h.peer.open(1);
    h.peer.open(3);
    h.peer.open(5);
    await flush();
    h.accepted[0]!.fail('INTERNAL', 'm'.repeat(5000), { details: { why: 'x'.repeat(100) } });
    h.accepted[1]!.cancel('r'.repeat(5000));
    await flush();
    void h.session.goaway({ message: 'g'.repeat(5000) });
    await flush();
    h.session.close(new FramewireError('INTERNAL', 'c'.repeat(5000), { details: { big: 'y'.repeat(5000) } }));
    await h.session.closed;
    expect(trace(h.transport.frames).slice(2)).toEqual(['ERROR 1', 'CANCEL 3', 'GOAWAY 0', 'ERROR 0']);
    expect(ofType(h.transport.frames, FrameType.ERROR, 1)[0]!.payload.details).toEqual({ why: 'x'.repeat(100) });
    const last = ofType(h.transport.frames, FrameType.ERROR, 0)[0]!.payload;
    expect(last.message.endsWith('…')).toBe(true);
    expect(last.details).toBeUndefined();
    expectAllFit(h, MIN_MAX_PAYLOAD);
  });

  it('fail() with details that cannot fit even without a message throws MESSAGE_TOO_LARGE', async () => {
    const h = await connectedServer({}, small);
    h.peer.open(1);
    await flush();
    expect(() => { h.accepted[0]!.fail('INTERNAL', 'x', { details: { big: 'y'.repeat(2000) } }); }).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(h.accepted[0]!.ended).toBe(false);
  });
});

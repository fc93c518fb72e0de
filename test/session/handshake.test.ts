/** Handshake (spec §8.1): HELLO exchange, version choice, auth hook, deadline, payload limits, settings defaults. */

import { describe, expect, it } from 'vitest';
import { FramewireError } from '../../src/errors.ts';
import { defaultSettings, encodeHelloPayload, FrameType, HANDSHAKE_MAX_PAYLOAD, type HelloFrame } from '../../src/wire/index.ts';
import { connectedClient, connectedServer, expectConnectionError, flush, ofType, startClient, startServer } from './helpers.ts';

describe('handshake: client side', () => {
  it('FW-HS-1: the client sends HELLO first, on stream 0 with seq 0, carrying versions, settings and auth', () => {
    const h = startClient({ settings: { maxFramePayload: 4096, initialStreamCredit: 5000 }, auth: { token: 'abc' }, versions: [1, 2] });
    const [first, ...rest] = h.transport.frames;
    expect(rest).toEqual([]);
    expect(first?.type).toBe(FrameType.HELLO);
    expect(first?.stream).toBe(0);
    expect(first?.seq).toBe(0);
    const p = (first as HelloFrame).payload;
    expect(p.versions).toEqual([1, 2]);
    expect(p.settings.maxFramePayload).toBe(4096);
    expect(p.settings.initialStreamCredit).toBe(5000);
    expect(p.auth).toEqual({ token: 'abc' });
  });

  it('FW-HS-3: the server HELLO with one version of ours completes the handshake', async () => {
    const h = startClient({ versions: [1, 2] });
    h.peer.hello({ versions: [2] });
    await h.session.ready;
    expect(h.session.version).toBe(2);
    expect(h.session.isOpen).toBe(true);
  });

  it('FW-HS-3: a server HELLO listing several versions is UNSUPPORTED_VERSION', async () => {
    const h = startClient({ versions: [1, 2] });
    h.peer.hello({ versions: [1, 2] });
    await expectConnectionError(h, 'UNSUPPORTED_VERSION');
    await expect(h.session.ready).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
  });

  it('FW-HS-3: a server HELLO choosing a version we do not speak is UNSUPPORTED_VERSION', async () => {
    const h = startClient({ versions: [1] });
    h.peer.hello({ versions: [3] });
    await expectConnectionError(h, 'UNSUPPORTED_VERSION');
  });

  it('FW-HS-7: a frame other than HELLO before the server HELLO is HANDSHAKE', async () => {
    const h = startClient();
    h.peer.credit(0, 1_000_000);
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: a stream frame before the server HELLO is HANDSHAKE', async () => {
    const h = startClient();
    h.peer.open(2);
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: the client sends nothing but HELLO before the server HELLO, even with streams opened', async () => {
    const h = startClient();
    const s = h.session.open({ kind: 'early' });
    void s.write(new Uint8Array(10));
    await flush();
    expect(h.transport.frames.map((f) => f.type)).toEqual([FrameType.HELLO]);
    h.peer.hello();
    await flush();
    const types = h.transport.frames.map((f) => f.type);
    expect(types).toContain(FrameType.OPEN);
    expect(types).toContain(FrameType.DATA);
  });

  it('FW-HS-5: the client bounds its wait for the server HELLO', async () => {
    const h = startClient({ limits: { handshakeTimeoutMs: 2000 } });
    h.clock.advance(1999);
    expect(h.transport.closed).toBe(false);
    h.clock.advance(1);
    await expectConnectionError(h, 'HANDSHAKE');
  });
});

describe('handshake: server side', () => {
  it('FW-HS-2/FW-HS-3: the server chooses the highest common version and answers with exactly that one', async () => {
    const h = startServer({ versions: [1, 2, 3] });
    expect(h.transport.frames).toEqual([]);
    h.peer.hello({ versions: [4, 2, 1] });
    await h.session.ready;
    const hello = ofType(h.transport.frames, FrameType.HELLO);
    expect(hello).toHaveLength(1);
    expect(hello[0]!.payload.versions).toEqual([2]);
    expect(hello[0]!.seq).toBe(0);
    expect(h.transport.frames[0]?.type).toBe(FrameType.HELLO);
    expect(h.session.version).toBe(2);
  });

  it('FW-HS-2: no common version is ERROR UNSUPPORTED_VERSION on stream 0, then close', async () => {
    const h = startServer({ versions: [1] });
    h.peer.hello({ versions: [2, 3] });
    await expectConnectionError(h, 'UNSUPPORTED_VERSION');
    expect(ofType(h.transport.frames, FrameType.HELLO)).toEqual([]);
    expect(h.transport.frames[0]?.seq).toBe(0);
    await expect(h.session.ready).rejects.toBeInstanceOf(FramewireError);
  });

  it('FW-HS-6: an auth hook that throws refuses with AUTH_FAILED', async () => {
    const h = startServer({
      authenticate: () => {
        throw new Error('bad token');
      },
    });
    h.peer.hello({ auth: 'nope' });
    await flush();
    await expectConnectionError(h, 'AUTH_FAILED');
    expect(ofType(h.transport.frames, FrameType.HELLO)).toEqual([]);
  });

  it('FW-HS-6: an auth hook that returns false refuses with AUTH_FAILED', async () => {
    const h = startServer({ authenticate: () => false });
    h.peer.hello({ auth: 'nope' });
    await flush();
    await expectConnectionError(h, 'AUTH_FAILED');
  });

  it('FW-HELLO-2: the server HELLO carries no auth, even when the options hold one', async () => {
    const h = startServer({ auth: 'server-secret' });
    h.peer.hello();
    await h.session.ready;
    const hello = ofType(h.transport.frames, FrameType.HELLO);
    expect(hello[0]!.payload.auth).toBeUndefined();
  });

  it('FW-HS-6: the hook sees the client auth value and its principal is exposed', async () => {
    const seen: unknown[] = [];
    const h = startServer({
      authenticate: (credentials) => {
        seen.push(credentials);
        return { user: 'alice' };
      },
    });
    h.peer.hello({ auth: { token: 't1' } });
    await h.session.ready;
    expect(seen).toEqual([{ token: 't1' }]);
    expect(h.session.principal).toEqual({ user: 'alice' });
  });

  it('FW-HS-6: an async hook delays the server HELLO until it resolves', async () => {
    let release!: (v: unknown) => void;
    const h = startServer({
      authenticate: () =>
        new Promise((resolve) => {
          release = resolve;
        }),
    });
    h.peer.hello({ auth: 'x' });
    await flush();
    expect(h.transport.frames).toEqual([]);
    release({ user: 'bob' });
    await h.session.ready;
    expect(h.transport.frames[0]?.type).toBe(FrameType.HELLO);
    expect(h.session.principal).toEqual({ user: 'bob' });
  });

  it('FW-HS-6: an async hook that rejects refuses with AUTH_FAILED', async () => {
    const h = startServer({ authenticate: () => Promise.reject(new Error('expired')) });
    h.peer.hello();
    await flush();
    await expectConnectionError(h, 'AUTH_FAILED');
  });

  it('FW-HS-7: a frame before the client HELLO is HANDSHAKE', async () => {
    const h = startServer();
    h.peer.ping();
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: an OPEN before the client HELLO is HANDSHAKE', async () => {
    const h = startServer();
    h.peer.open(1);
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: a frame while the auth hook runs is HANDSHAKE', async () => {
    const h = startServer({ authenticate: () => new Promise(() => undefined) });
    h.peer.hello();
    h.peer.ping();
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: a second HELLO is HANDSHAKE', async () => {
    const h = await connectedServer();
    h.peer.hello();
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-7: a second HELLO to the client is HANDSHAKE', async () => {
    const h = await connectedClient();
    h.peer.hello();
    await expectConnectionError(h, 'HANDSHAKE');
  });

  it('FW-HS-5: no client HELLO within the handshake timeout (default 5 s, §8.8) is HANDSHAKE', async () => {
    const h = startServer();
    h.clock.advance(4_999);
    expect(h.transport.frames).toEqual([]);
    h.clock.advance(1);
    await expectConnectionError(h, 'HANDSHAKE');
    await expect(h.session.ready).rejects.toMatchObject({ code: 'HANDSHAKE' });
  });

  it('FW-HS-5: the deadline also covers a slow auth hook, and a late verdict writes nothing', async () => {
    let release!: (v: unknown) => void;
    const h = startServer({
      limits: { handshakeTimeoutMs: 500 },
      authenticate: () =>
        new Promise((resolve) => {
          release = resolve;
        }),
    });
    h.peer.hello();
    await flush();
    h.clock.advance(500);
    await expectConnectionError(h, 'HANDSHAKE');
    release({ user: 'late' });
    await flush();
    expect(ofType(h.transport.frames, FrameType.HELLO)).toEqual([]);
    expect(h.transport.lateWrites).toEqual([]);
  });

  it('FW-HS-5: a completed handshake cancels the deadline', async () => {
    const h = await connectedServer({ settings: { idleTimeoutMs: 0, heartbeatIntervalMs: 0 } });
    h.clock.advance(60_000);
    expect(h.transport.closed).toBe(false);
  });
});

describe('handshake: limits and settings', () => {
  it('FW-HS-4: the payload limit is 16 KiB during the handshake and our max_frame_payload after', async () => {
    const h = startServer({ settings: { maxFramePayload: 200_000 } });
    expect(h.transport.maxPayloads).toEqual([HANDSHAKE_MAX_PAYLOAD]);
    h.peer.hello();
    await h.session.ready;
    expect(h.transport.maxPayloads).toEqual([HANDSHAKE_MAX_PAYLOAD, 200_000]);

    const c = startClient({ settings: { maxFramePayload: 32_768 } });
    expect(c.transport.maxPayloads).toEqual([HANDSHAKE_MAX_PAYLOAD]);
    c.peer.hello({ settings: { maxFramePayload: 1024 } });
    await c.session.ready;
    // Our own receive limit, not the peer's.
    expect(c.transport.maxPayloads).toEqual([HANDSHAKE_MAX_PAYLOAD, 32_768]);
  });

  it('FW-SET-1: settings the peer leaves out take the protocol defaults, not ours', async () => {
    const h = await connectedServer({ settings: { maxConcurrentStreams: 5, initialStreamCredit: 1024, maxFramePayload: 2048 } }, {});
    expect(h.session.peerSettings).toEqual(defaultSettings);
  });

  it('FW-SET-1: declared settings override the defaults key by key', async () => {
    const h = await connectedClient({}, { initialStreamCredit: 777, maxConcurrentStreams: 3 });
    expect(h.session.peerSettings).toEqual({ ...defaultSettings, initialStreamCredit: 777, maxConcurrentStreams: 3 });
  });

  it('FW-SET-2: an out-of-bounds setting in HELLO is MALFORMED_PAYLOAD', async () => {
    const h = startServer();
    // Hand-built: the encoder passes the value through, the decoder must reject it.
    h.peer.send(FrameType.HELLO, 0, encodeHelloPayload({ versions: [1], settings: { maxFramePayload: 10 } }));
    await expectConnectionError(h, 'MALFORMED_PAYLOAD');
  });
});

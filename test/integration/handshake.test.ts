/**
 * The handshake over TCP (FW-HS-*): authentication, a server that never answers, a closed port,
 * and aborting connect() with an AbortSignal. Every failure is a FramewireError, never a crash.
 */

import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.ts';
import { FrameType, HANDSHAKE_MAX_PAYLOAD } from '../../src/wire/index.ts';
import { echoHandler, expectAbortError, expectFwError, FrameReader, Harness, readAll, settle, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

/** A TCP server that accepts, reads, and never answers. */
async function silentServer(): Promise<{ port: number; readers: FrameReader[] }> {
  const readers: FrameReader[] = [];
  const { port } = await h.rawServer((socket) => {
    readers.push(new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD));
  });
  return { port, readers };
}

describe('handshake over TCP', () => {
  it('FW-HS-6: the auth hook accepts good credentials and the principal is visible to the server', async () => {
    const { server, port } = await h.server({
      authenticate: (credentials) => (credentials === 'good-token' ? { user: 'alice' } : false),
      onStream: echoHandler(),
    });
    const client = await h.client({ port, auth: 'good-token' });
    const s = client.open({ kind: 'echo' });
    const reading = readAll(s);
    await s.write(Buffer.from('hi'));
    await s.end();
    expect((await within(reading, 5000, 'echo')).map((m) => Buffer.from(m).toString())).toEqual(['hi']);
    expect([...server.connections][0]!.session.principal).toEqual({ user: 'alice' });
  });

  it('FW-HS-6: an auth hook refusal makes connect() reject with AUTH_FAILED (remote, not retryable)', async () => {
    let calls = 0;
    const { server, port } = await h.server({
      authenticate: async (credentials) => {
        calls++;
        await new Promise((r) => setTimeout(r, 10));
        return credentials === 'good-token';
      },
      onStream: echoHandler(),
    });
    const r = await within(settle(connect({ port, auth: 'bad-token', connectTimeoutMs: 5000 })), 5000, 'connect');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const error = expectFwError(r.error, 'AUTH_FAILED');
      expect(error.remote).toBe(true);
      expect(error.retryable).toBe(false);
    }
    expect(calls).toBe(1);
    await waitFor(() => server.connections.size === 0, 5000, 'server dropped the connection');
  });

  it('FW-HS-6: an auth hook that throws is AUTH_FAILED too', async () => {
    const { port } = await h.server({
      authenticate: () => {
        throw new Error('token store unavailable');
      },
      onStream: echoHandler(),
    });
    const r = await within(settle(connect({ port, auth: 'x' })), 5000, 'connect');
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'AUTH_FAILED');
  });

  it('FW-HS-5: a raw TCP server that never answers HELLO: connect() rejects with HANDSHAKE at limits.handshakeTimeoutMs', async () => {
    const { port, readers } = await silentServer();
    const started = performance.now();
    const r = await within(settle(connect({ port, limits: { handshakeTimeoutMs: 300 } })), 5000, 'connect');
    const waited = performance.now() - started;
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'HANDSHAKE');
    expect(waited).toBeGreaterThanOrEqual(250);
    // The client spoke first (FW-HS-1): HELLO on stream 0, seq 0, then ERROR HANDSHAKE.
    await waitFor(() => readers[0]?.ended === true, 5000, 'client closed the socket');
    const frames = readers[0]!.frames;
    expect(frames[0]).toMatchObject({ type: FrameType.HELLO, stream: 0, seq: 0 });
    expect(frames.at(-1)).toMatchObject({ type: FrameType.ERROR, stream: 0 });
  });

  it('FW-HS-5: connectTimeoutMs bounds TCP connect + handshake: a silent server makes connect() reject with TIMEOUT', async () => {
    const { port } = await silentServer();
    const started = performance.now();
    const r = await within(settle(connect({ port, connectTimeoutMs: 300 })), 5000, 'connect');
    const waited = performance.now() - started;
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'TIMEOUT');
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(4000);
  });

  it('FW-ERR-6: connecting to a closed port rejects with CONNECTION_REFUSED (ECONNREFUSED its cause), not a crash', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((r) => probe.close(() => { r(); }));
    const r = await within(settle(connect({ port })), 5000, 'connect');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      const error = expectFwError(r.error, 'CONNECTION_REFUSED');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/ECONNREFUSED/);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    }
  });

  it('an AbortSignal aborts connect() during the handshake with an AbortError (cause: the reason, code CANCELLED)', async () => {
    const { port, readers } = await silentServer();
    const controller = new AbortController();
    const pending = settle(connect({ port, signal: controller.signal }));
    await waitFor(() => readers.length === 1 && readers[0]!.frames.length >= 1, 5000, 'HELLO reached the server');
    const reason = new Error('user gave up');
    controller.abort(reason);
    const r = await within(pending, 2000, 'aborted connect');
    expect(r.ok).toBe(false);
    if (!r.ok) expectAbortError(r.error, reason);
    await waitFor(() => readers[0]!.ended, 5000, 'socket closed after abort');
  });

  it('an AbortSignal that fires during TCP connect, or was aborted before, rejects connect() with an AbortError, never a synchronous throw', async () => {
    const { port } = await silentServer();
    const before = AbortSignal.abort('stop');
    let promise: Promise<unknown> | undefined;
    expect(() => { promise = connect({ port, signal: before }); }).not.toThrow();
    const early = await within(settle(promise!), 2000, 'pre-aborted connect');
    expect(early.ok).toBe(false);
    if (!early.ok) expectAbortError(early.error, 'stop');
    const controller = new AbortController();
    const pending = settle(connect({ port, signal: controller.signal }));
    controller.abort();
    const r = await within(pending, 2000, 'aborted connect');
    expect(r.ok).toBe(false);
    if (!r.ok) expectAbortError(r.error, controller.signal.reason);
  });

  it('aborting the signal after connect() resolved closes the connection', async () => {
    const { port } = await h.server({ onStream: echoHandler() });
    const controller = new AbortController();
    const client = await h.client({ port, signal: controller.signal });
    const s = client.open({ kind: 'echo' });
    const reason = new Error('done with it');
    controller.abort(reason);
    const end = await within(client.closed, 2000, 'closed after abort');
    expectAbortError(end.error, reason);
    const o = await within(s.outcome, 2000, 'outcome');
    expect(o.status).toBe('failed');
  });
});

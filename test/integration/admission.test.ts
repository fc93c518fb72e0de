/**
 * Issue 12, items 4 and 12 over TCP: connection exhaustion before and after the handshake, and
 * slow frames. Silent sockets only push each other out of their own budget; one address cannot hold
 * more than its share; a full server makes room from connections without streams; a trickled
 * frame is cut at its deadline; every refusal is ERROR LIMIT_EXCEEDED with retry_after_ms.
 */

import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { addressKey } from '../../src/admission.ts';
import { errorCodeName } from '../../src/errors.ts';
import { encodeFrame, encodeHeader, FrameType, type Frame } from '../../src/wire/index.ts';
import { invalidArgument } from '../session/helpers.ts';
import { echoHandler, expectFwError, FrameReader, Harness, readAll, settle, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const hello = (): Buffer => encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } });

/** A raw TCP connection from `localAddress` (any 127.0.0.0/8 address works on loopback). */
async function rawFrom(port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; reader: FrameReader }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  const reader = new FrameReader(socket);
  await within(new Promise<void>((resolve) => socket.once('connect', resolve)), 5000, 'raw connect');
  sockets.push(socket);
  return { socket, reader };
}
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

function errorOf(frames: readonly Frame[]): { code: string | undefined; retryAfterMs: number | undefined } | undefined {
  const e = frames.find((f) => f.type === FrameType.ERROR && f.stream === 0);
  return e?.type === FrameType.ERROR ? { code: errorCodeName(e.payload.code), retryAfterMs: e.payload.retryAfterMs } : undefined;
}

describe('admission (FW-LIMIT-8)', () => {
  it('per address: beyond maxConnectionsPerAddress a new connection gets LIMIT_EXCEEDED with retry_after_ms; another address is served', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), serverLimits: { maxConnectionsPerAddress: 3, refusalRetryAfterMs: 250 } });
    for (let i = 0; i < 3; i++) await h.client({ port });
    const refused = await within(settle(h.client({ port })), 5000, 'fourth connect');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(expectFwError(refused.error, 'LIMIT_EXCEEDED')).toMatchObject({ remote: true, retryAfterMs: 250 });
    // 127.0.0.2 is another address: it is served.
    const other = await rawFrom(port, '127.0.0.2');
    other.socket.write(hello());
    await other.reader.next((f) => f.type === FrameType.HELLO, 5000, 'server HELLO for 127.0.0.2');
    expect(server.admissionStats).toMatchObject({ refusedPerAddress: 1, admitted: 4 });
  });

  it('handshake budget: silent connections push each other out, oldest first, and an honest client still gets in', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), serverLimits: { maxHandshakingConnections: 4, maxConnectionsPerAddress: 100 } });
    const silent = [];
    for (let i = 0; i < 6; i++) silent.push(await rawFrom(port));
    // The two oldest were closed with a coded error to make room for the 5th and 6th.
    for (const s of silent.slice(0, 2)) {
      await waitFor(() => s.reader.ended, 5000, 'oldest silent connection closed');
      expect(errorOf(s.reader.frames)).toMatchObject({ code: 'LIMIT_EXCEEDED', retryAfterMs: 1000 });
    }
    expect(silent.slice(2).every((s) => !s.reader.ended)).toBe(true);
    const honest = await h.client({ port });
    const echo = honest.open({ kind: 'echo' });
    const got = readAll(echo);
    await echo.write(Buffer.from('in'));
    await echo.end();
    expect((await within(got, 5000, 'echo')).length).toBe(1);
    expect(server.admissionStats.evictedHandshaking).toBe(3);
  });

  it('handshake budget: a connection that has sent bytes of its handshake outlives newer silent ones; a silent one makes room', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), serverLimits: { maxHandshakingConnections: 4, maxConnectionsPerAddress: 100 } });
    // The oldest connection in the budget is one whose HELLO is under way (its first 10 bytes sent).
    const talker = await rawFrom(port);
    await new Promise<void>((resolve, reject) => talker.socket.write(hello().subarray(0, 10), (e) => {
        if (e) reject(e);
        else resolve();
      }),
    );
    const silent: Awaited<ReturnType<typeof rawFrom>>[] = [];
    for (let i = 0; i < 4; i++) silent.push(await rawFrom(port));
    // The fifth overflowed the budget: the oldest SILENT connection gave way, not the older talker.
    await waitFor(() => silent[0]!.reader.ended, 5000, 'oldest silent connection closed');
    expect(errorOf(silent[0]!.reader.frames)).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(talker.reader.ended).toBe(false);
    talker.socket.write(hello().subarray(10));
    await talker.reader.next((f) => f.type === FrameType.HELLO, 5000, 'server HELLO for the talker');
    expect(server.admissionStats.evictedHandshaking).toBe(1);
    expect(silent.slice(1).every((s) => !s.reader.ended)).toBe(true);
  });

  it('full server: the connection unused the longest makes room (GOAWAY); when every connection has streams open, the new one is refused', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), serverLimits: { maxConnections: 3, maxHandshakingConnections: 2, maxConnectionsPerAddress: 10 } });
    const idle = await h.client({ port });
    const busy = [await h.client({ port }), await h.client({ port })];
    const open = busy.map((c) => c.open({ kind: 'echo' }));
    await Promise.all(open.map((s) => s.write(Buffer.from('x'))));
    await waitFor(() => [...server.connections].filter((c) => c.session.activeStreams > 0).length === 2, 5000, 'two busy');
    const newcomer = await h.client({ port });
    await within(idle.closed, 5000, 'idle connection closed');
    expect(server.admissionStats.evictedUnused).toBe(1);
    const s = newcomer.open({ kind: 'echo' });
    await s.write(Buffer.from('y'));
    await waitFor(() => [...server.connections].filter((c) => c.session.activeStreams > 0).length === 3, 5000, 'three busy');
    const refused = await within(settle(h.client({ port })), 5000, 'connect to a full server');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expectFwError(refused.error, 'LIMIT_EXCEEDED');
    expect(server.admissionStats.refusedFull).toBe(1);
  });

  it('maxConnections is also accepted as the top-level option, and limits are checked', async () => {
    await expect(h.server({ serverLimits: { maxHandshakingConnections: 0 } })).rejects.toThrow(invalidArgument);
    await expect(h.server({ maxConnections: 2, serverLimits: { maxHandshakingConnections: 3 } })).rejects.toThrow(/must not exceed/);
    await expect(h.server({ maxConnections: 2, serverLimits: { maxHandshakingConnections: 3 } })).rejects.toThrow(invalidArgument);
    const { server } = await h.server({ maxConnections: 7 });
    expect(server.serverLimits).toMatchObject({ maxConnections: 7, maxHandshakingConnections: 7 });
  });

  it('addresses are counted per IPv4 address and per IPv6 /64', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8:0:1:abcd:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBeUndefined();
  });
});

describe('slow frames (FW-LIMIT-6)', () => {
  it('a frame that claims 60 000 bytes and trickles a byte every 50 ms is cut with TIMEOUT at frameTimeoutMs', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), limits: { frameTimeoutMs: 400 } });
    const { socket, reader } = await rawFrom(port);
    socket.write(hello());
    await reader.next((f) => f.type === FrameType.HELLO, 5000, 'server HELLO');
    socket.write(encodeHeader(FrameType.PING, 0, 0, 1, new Uint8Array(60_000)).subarray(0, 20));
    const started = performance.now();
    const trickle = setInterval(() => socket.write(Buffer.of(0)), 50);
    try {
      await waitFor(() => reader.ended, 5000, 'connection closed');
    } finally {
      clearInterval(trickle);
    }
    const took = performance.now() - started;
    expect(errorOf(reader.frames)?.code).toBe('TIMEOUT');
    expect(took).toBeLessThan(3000);
    expect(server.connections.size).toBe(0);
  });
});

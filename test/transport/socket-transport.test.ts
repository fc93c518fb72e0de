/**
 * The transport layer (L4): SocketTransport over the in-memory pair with frames cut at odd points,
 * and over TCP against raw bytes: a corrupted frame earns ERROR BAD_CRC on stream 0 before the
 * close (FW-FRAME-2, FW-FRAME-11, FW-CONN-1), read back with the wire decoder.
 */

import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/connection.ts';
import { ErrorCodes } from '../../src/errors.ts';
import type { Stream } from '../../src/index.ts';
import { createMemoryPair, SocketTransport } from '../../src/transport/index.ts';
import { encodeFrame, FrameDecoder, FrameType, HANDSHAKE_MAX_PAYLOAD, HEADER_SIZE, PingFlags, type Frame, type RawFrame } from '../../src/wire/index.ts';
import { echoHandler, expectFwError, FrameReader, Harness, KiB, randomMessages, readAll, sha256, waitFor, within } from '../integration/helpers.ts';

const h = new Harness();
const pairs: Connection[] = [];
afterEach(async () => {
  for (const c of pairs.splice(0)) c.destroy();
  await h.cleanup();
});

function memoryConnections(maxChunk: number, onStream: (s: Stream) => Promise<void>, settings = {}): [Connection, Connection] {
  const [a, b] = createMemoryPair({ maxChunk });
  const server = new Connection(b, { role: 'server', settings }, onStream);
  const client = new Connection(a, { role: 'client', settings });
  pairs.push(client, server);
  return [client, server];
}

describe('SocketTransport over createMemoryPair', () => {
  it('FW-TRANS-1 FW-FRAME-12: frames split every 7 bytes still carry an echo end to end, multi-frame messages included', async () => {
    const [client, server] = memoryConnections(7, echoHandler(), { maxFramePayload: 1024 });
    await within(client.ready, 5000, 'handshake over 7-byte chunks');
    await within(server.ready, 5000, 'server handshake');
    const streams = Array.from({ length: 3 }, async (_, i) => {
      const messages = randomMessages(40 + i, 24 * KiB, 1024);
      const s = client.open({ kind: 'echo' });
      const reading = readAll(s);
      for (const m of messages) await s.write(m);
      await s.end({ i });
      const echoed = await reading;
      return { messages, echoed, outcome: await s.outcome };
    });
    for (const r of await within(Promise.all(streams), 15_000, 'echo over memory pair')) {
      expect(r.echoed.map((m) => m.length)).toEqual(r.messages.map((m) => m.length));
      expect(sha256(r.echoed)).toBe(sha256(r.messages));
      expect(r.outcome.status).toBe('completed');
    }
    expect(await within(client.ping(), 5000, 'ping')).toBeGreaterThanOrEqual(0);
    await within(client.goaway(), 5000, 'goaway');
    expect((await within(server.closed, 5000, 'server closed')).error).toBeUndefined();
  });

  it('FW-CONN-4: destroying one end of the pair fails the other side\'s streams with CONNECTION_LOST', async () => {
    const [client, server] = memoryConnections(64 * KiB, async (s) => {
      await readAll(s).catch(() => undefined);
    });
    await within(client.ready, 5000, 'handshake');
    const s = client.open({ kind: 'x' });
    await s.write(randomBytes(1000));
    await waitFor(() => server.session.activeStreams === 1, 5000, 'server has the stream');
    server.destroy();
    const o = await within(s.outcome, 5000, 'client outcome');
    expect(o.status).toBe('failed');
    if (o.status === 'failed') expectFwError(o.error, 'CONNECTION_LOST');
  });
});

describe('SocketTransport without a session', () => {
  it('close() writes out frames still batched, then ends the byte stream', async () => {
    const [a, b] = createMemoryPair({ maxChunk: 7 });
    const transport = new SocketTransport(a);
    const received: RawFrame[] = [];
    const decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD }, (f) => received.push({ ...f, payload: Buffer.from(f.payload) }));
    b.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
    });
    const ended = new Promise<void>((resolve) => b.once('end', resolve));
    transport.write(FrameType.PING, 0, 0, 0, Buffer.from('abcdefgh'));
    transport.write(FrameType.PING, PingFlags.ACK, 0, 1, Buffer.from('12345678'));
    expect(transport.bufferedBytes).toBe(2 * (HEADER_SIZE + 8));
    transport.close();
    await within(ended, 5000, 'peer saw the end');
    expect(decoder.atBoundary).toBe(true);
    expect(received.map((f) => [f.type, f.flags, f.seq, Buffer.from(f.payload).toString()])).toEqual([
      [FrameType.PING, 0, 0, 'abcdefgh'],
      [FrameType.PING, PingFlags.ACK, 1, '12345678'],
    ]);
    b.destroy();
  });
});

/** A framewire server and a raw TCP client that has completed the handshake by hand. */
async function handshaken(): Promise<{ socket: net.Socket; reader: FrameReader; serverEnd: () => Promise<unknown> }> {
  const { server, port } = await h.server({ onStream: echoHandler() });
  const socket = await h.rawClient(port);
  const reader = new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD);
  socket.write(encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } }));
  await reader.next((f) => f.type === FrameType.HELLO, 5000, 'server HELLO');
  await waitFor(() => server.connections.size === 1, 5000, 'server connection');
  const connection = [...server.connections][0]!;
  return { socket, reader, serverEnd: () => within(connection.closed, 5000, 'server session closed') };
}

function corrupt(frame: Frame, at: number): Buffer {
  const bytes = encodeFrame(frame);
  bytes[at] = bytes[at]! ^ 0x40;
  return bytes;
}

describe('SocketTransport over TCP, raw bytes', () => {
  it('FW-FRAME-2 FW-CONN-1: a frame with a bad CRC gets ERROR BAD_CRC on stream 0, as the last frame before the close', async () => {
    const { socket, reader, serverEnd } = await handshaken();
    const ping: Frame = { type: FrameType.PING, flags: 0, stream: 0, seq: 1, payload: Buffer.from('12345678') };
    socket.write(corrupt(ping, HEADER_SIZE + 3)); // a payload byte
    const error = await reader.next((f) => f.type === FrameType.ERROR, 5000, 'ERROR frame');
    expect(error.stream).toBe(0);
    if (error.type === FrameType.ERROR) {
      expect(error.payload.code).toBe(ErrorCodes.BAD_CRC.code);
      expect(error.payload.message).toMatch(/CRC/);
    }
    await waitFor(() => reader.ended, 5000, 'server closed the socket');
    expect(reader.frames.at(-1)).toBe(error);
    expect(reader.error).toBeUndefined();
    // The server never answered the corrupted PING.
    expect(reader.frames.filter((f) => f.type === FrameType.PING && f.flags !== 0)).toHaveLength(0);
    const end = (await serverEnd()) as { error?: { code: string } };
    expect(end.error?.code).toBe('BAD_CRC');
  });

  it('FW-FRAME-2: a corrupted header (stream id bits flipped) is BAD_CRC too, not a misleading stream error', async () => {
    const { socket, reader } = await handshaken();
    const data: Frame = { type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload: Buffer.from('abc') };
    socket.write(corrupt(data, 9));
    const error = await reader.next((f) => f.type === FrameType.ERROR, 5000, 'ERROR frame');
    expect(error.stream).toBe(0);
    if (error.type === FrameType.ERROR) expect(error.payload.code).toBe(ErrorCodes.BAD_CRC.code);
  });

  it('FW-FRAME-2 FW-HS-7: a bad CRC as the very first frame (instead of HELLO) is answered with ERROR BAD_CRC on stream 0', async () => {
    const { port } = await h.server({ onStream: echoHandler() });
    const socket = await h.rawClient(port);
    const reader = new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD);
    socket.write(corrupt({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } }, HEADER_SIZE + 1));
    const error = await reader.next((f) => f.type === FrameType.ERROR, 5000, 'ERROR frame');
    expect(error).toMatchObject({ stream: 0, seq: 0 });
    if (error.type === FrameType.ERROR) expect(error.payload.code).toBe(ErrorCodes.BAD_CRC.code);
    await waitFor(() => reader.ended, 5000, 'closed');
    expect(reader.frames).toHaveLength(1);
  });

  it('FW-FRAME-3 FW-HS-4: a frame longer than 16 KiB before the handshake is FRAME_SIZE, refused before its payload arrives', async () => {
    const { port } = await h.server({ onStream: echoHandler() });
    const socket = await h.rawClient(port);
    const reader = new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD);
    const header = encodeFrame({ type: FrameType.PING, flags: 0, stream: 0, seq: 0, payload: Buffer.alloc(8) }).subarray(0, HEADER_SIZE);
    header.writeUInt32BE(HANDSHAKE_MAX_PAYLOAD + 1, 0);
    socket.write(header); // the header alone: the length is checked before any payload
    const error = await reader.next((f) => f.type === FrameType.ERROR, 5000, 'ERROR frame');
    if (error.type === FrameType.ERROR) expect(error.payload.code).toBe(ErrorCodes.FRAME_SIZE.code);
  });

  it('FW-FRAME-10: EOF inside a frame: the server\'s session ends with TRUNCATED (never sent) and open streams fail with CONNECTION_LOST', async () => {
    const outcomes: Promise<unknown>[] = [];
    const { server, port } = await h.server({
      onStream: async (s) => {
        outcomes.push(s.outcome);
        await readAll(s).catch(() => undefined);
      },
    });
    const socket = await h.rawClient(port);
    const reader = new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD);
    socket.write(encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } }));
    await reader.next((f) => f.type === FrameType.HELLO, 5000, 'server HELLO');
    socket.write(encodeFrame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'x' } }));
    await waitFor(() => outcomes.length === 1, 5000, 'stream opened');
    const connection = [...server.connections][0]!;
    const data = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 1, payload: randomBytes(100) });
    socket.end(data.subarray(0, 50));
    const end = await within(connection.closed, 5000, 'server session closed');
    expect(end.error?.code).toBe('TRUNCATED');
    const [o] = (await within(Promise.all(outcomes), 5000, 'outcome')) as { status: string; error?: { code: string } }[];
    expect(o).toMatchObject({ status: 'failed', error: { code: 'CONNECTION_LOST' } });
    expect(reader.frames.some((f) => f.type === FrameType.ERROR)).toBe(false);
  });
});

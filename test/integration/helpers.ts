/**
 * Shared scaffolding for the loopback integration tests: servers and clients that are always torn
 * down, bounded waits (every wait has a deadline and a label), seeded random sizes, digests, and a
 * raw TCP peer that speaks the wire format by hand (wire/ encoders only, never session/).
 */

import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { connect, createServer, type Connection, type ConnectOptions, type FramewireServer, type ServerOptions, type Stream } from '../../src/index.ts';
import { encodeFrame, FrameDecoder, FrameType, parseFrame, type Frame, type RawFrame, type Settings } from '../../src/wire/index.ts';
import { isFramewireError, type ErrorCodeName, type FramewireError } from '../../src/errors.ts';
import { quicInstalled } from '../../src/transport/index.ts';

export const MiB = 1024 * 1024;
export const KiB = 1024;

/** Rejects with a labelled error if `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${label}: not settled within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `everyMs` until it holds; fails after `ms`. */
export async function waitFor(condition: () => boolean, ms: number, label: string, everyMs = 5): Promise<void> {
  const until = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > until) throw new Error(`${label}: condition not met within ${ms} ms`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles `promise` into a value or the error it rejected with. */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Asserts-and-narrows: the value is a FramewireError with this code. */
export function expectFwError(error: unknown, code: ErrorCodeName): FramewireError {
  if (!isFramewireError(error)) throw new Error(`expected FramewireError ${code}, got ${String(error)}`, { cause: error });
  if (error.code !== code) throw new Error(`expected FramewireError ${code}, got ${error.code}: ${error.message}`, { cause: error });
  return error;
}

/**
 * An operation aborted through an AbortSignal rejects as Node's own APIs do: `name` 'AbortError',
 * `cause` the signal's reason; and it is still a FramewireError with code CANCELLED.
 */
export function expectAbortError(error: unknown, reason: unknown): FramewireError {
  const e = expectFwError(error, 'CANCELLED');
  if (e.name !== 'AbortError') throw new Error(`expected an AbortError, got ${e.name}: ${e.message}`, { cause: e });
  if (e.cause !== reason) throw new Error(`expected the signal's reason as cause, got ${String(e.cause)}`, { cause: e });
  return e;
}

/** Deterministic PRNG (mulberry32) for sizes and schedules; data bytes come from crypto. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sha256(parts: Iterable<Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * Messages of random sizes totalling about `total` bytes: empty ones, small ones, and some larger
 * than `maxFrame` (so they span FOLLOWS chains).
 */
export function randomMessages(seed: number, total: number, maxFrame: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [Buffer.alloc(0)];
  let sum = 0;
  while (sum < total) {
    const r = rnd();
    let size: number;
    if (r < 0.05) size = 0;
    else if (r < 0.5) size = Math.floor(rnd() * 512);
    else if (r < 0.85) size = Math.floor(rnd() * maxFrame);
    else size = maxFrame + Math.floor(rnd() * 4 * maxFrame);
    size = Math.min(size, total - sum);
    out.push(size === 0 ? Buffer.alloc(0) : randomBytes(size));
    sum += size;
  }
  out.push(Buffer.alloc(0), randomBytes(maxFrame), randomBytes(maxFrame + 1));
  return out;
}

/** Reads every message of a stream (throws what the iterator throws). */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

/** A server handler that echoes every message back and ends with a trailer of what it saw. */
export function echoHandler(): (stream: Stream) => Promise<void> {
  return async (stream: Stream) => {
    const h = createHash('sha256');
    let messages = 0;
    let bytes = 0;
    for await (const m of stream) {
      h.update(m);
      messages++;
      bytes += m.length;
      await stream.write(m);
    }
    await stream.end({ messages, bytes, sha256: h.digest('hex') });
  };
}

/**
 * The transports end-to-end suites run over: TCP always, QUIC where its binding is installed
 * (loudly skipped otherwise). Checked without loading the binding, so test files that never reach a
 * QUIC test do not start the library's runtime.
 */
export type TransportName = 'tcp' | 'quic';
export const transports: readonly TransportName[] = quicInstalled() ? ['tcp', 'quic'] : ['tcp'];
if (!quicInstalled()) console.warn('[transports] QUIC SKIPPED: the QUIC binding is not installed here; end-to-end suites run over TCP only');

/**
 * Tracks everything a test opens and tears it all down, bounded, in afterEach. Over `transport`:
 * server() listens on it and returns its port, client() and via() connect over it.
 */
export class Harness {
  readonly transport: TransportName;
  readonly #servers: FramewireServer[] = [];
  readonly #clients: Connection[] = [];
  readonly #rawServers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();

  constructor(transport: TransportName = 'tcp') {
    this.transport = transport;
  }

  async server(options: ServerOptions): Promise<{ server: FramewireServer; port: number }> {
    const server = createServer(this.transport === 'quic' ? { ...options, quic: { ...options.quic } } : options);
    this.#servers.push(server);
    const address = await server.listen(0, '127.0.0.1');
    return { server, port: this.transport === 'quic' ? server.quicAddress!.port : address.port };
  }

  /** What connect(), upload() and subscribe() need besides the port to use this harness's transport. */
  via(): { quic?: Record<string, never> } {
    return this.transport === 'quic' ? { quic: {} } : {};
  }

  async client(options: ConnectOptions): Promise<Connection> {
    const connection = await connect({ connectTimeoutMs: 5000, ...this.via(), ...options });
    this.#clients.push(connection);
    return connection;
  }

  /** Cuts every connection the harness's servers hold, as a network failure would (any transport). */
  cutAll(): number {
    let n = 0;
    for (const server of this.#servers) {
      for (const c of server.connections) {
        c.destroy();
        n++;
      }
    }
    return n;
  }

  /** Registers a connection obtained otherwise (e.g. from a settled connect()). */
  track(connection: Connection): Connection {
    this.#clients.push(connection);
    return connection;
  }

  /** A raw TCP server; every accepted socket is destroyed at teardown. */
  async rawServer(onSocket: (socket: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
    const server = net.createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    this.#rawServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as net.AddressInfo).port };
  }

  /** A raw TCP client socket, destroyed at teardown. */
  async rawClient(port: number): Promise<net.Socket> {
    const socket = net.connect({ host: '127.0.0.1', port });
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    await within(new Promise<void>((resolve) => socket.once('connect', resolve)), 5000, 'raw connect');
    return socket;
  }

  async cleanup(): Promise<void> {
    for (const c of this.#clients.splice(0)) c.destroy();
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const closing: Promise<unknown>[] = [];
    for (const server of this.#servers.splice(0)) {
      for (const c of server.connections) c.destroy();
      closing.push(server.close({ deadlineMs: 100 }));
    }
    for (const raw of this.#rawServers.splice(0)) {
      closing.push(new Promise<void>((resolve) => raw.close(() => { resolve(); })));
    }
    await within(Promise.all(closing), 5000, 'harness cleanup');
  }
}

/** Frames read back from a raw socket with the wire decoder. */
export class FrameReader {
  readonly frames: Frame[] = [];
  readonly raw: RawFrame[] = [];
  error: unknown;
  ended = false;
  readonly #decoder: FrameDecoder;

  constructor(socket: net.Socket, maxPayload = 16 * MiB) {
    this.#decoder = new FrameDecoder({ maxPayload }, (frame) => {
      const copy = { ...frame, payload: Buffer.from(frame.payload) };
      this.raw.push(copy);
      this.frames.push(parseFrame(copy));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk);
      } catch (error) {
        this.error = error;
      }
    });
    socket.on('close', () => {
      this.ended = true;
    });
  }

  async next(predicate: (f: Frame) => boolean, ms: number, label: string): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(() => (found = this.frames.find(predicate)) !== undefined, ms, label);
    return found!;
  }
}

/** The server's HELLO, built with wire/ only: accepts version 1 with the given settings. */
export function serverHello(settings: Partial<Settings> = {}): Buffer {
  return encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings } });
}

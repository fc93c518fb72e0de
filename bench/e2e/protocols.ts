/**
 * The protocol stacks (framewire over TCP and over QUIC among them) behind one client interface (`ClientConn` / `ClientPipe`) and one
 * `serve()` per protocol. Each is used the way its own documentation suggests: node:net and
 * node:http2 with write()/'drain', yamux with send()/onDrain(), framewire with `await write()`
 * and its async iterators; framewire runs with default settings.
 */

import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { defaultLimits, connect as fwConnect, createServer as fwCreateServer } from '../../src/index.ts';
import type { Stream as FwStream } from '../../src/session/index.ts';
import { serveStream, type ServerPipe } from './behaviour.ts';
import { encodeKindHeader, idle, parseStallKind, sampleRss, type Protocol, type Reply, type StallReport } from './common.ts';
import { eachBuffer, yamuxOver, type YamuxStream } from './yamux-socket.ts';

/** One client stream: bytes out with backpressure, bytes back from the server. */
export interface ClientPipe {
  /** Undefined when the caller may write again at once, else a promise to await first. */
  write(chunk: Uint8Array): Promise<void> | undefined;
  end(): void;
  /** Receives the server's bytes (set once, before they arrive). */
  onData(cb: (chunk: Uint8Array) => void): void;
  /** Resolves when the server ended its direction. */
  readonly ended: Promise<void>;
  /** framewire only: stream.send(), then drained() when it reported a full buffer. */
  readonly send?: (chunk: Uint8Array) => Promise<void> | undefined;
}

export interface ClientConn {
  open(kind: string): Promise<ClientPipe>;
  close(): Promise<void>;
}

/**
 * Baselines may queue as much unsent data as framewire's transport does (its transportHighWater,
 * 1 MiB) before waiting for 'drain'. Waiting at Node's default highWaterMark (16 KiB) meant one
 * 64 KiB write per event-loop turn, which throttled raw and http2 below what they can do.
 */
const WRITE_BUDGET = defaultLimits.transportHighWater;

/**
 * raw-batched hands the kernel at most this much per writev, as framewire's scheduler writes at
 * most sendBurstBytes per turn into one corked FrameBatch flush (src/session/session.ts #pump,
 * src/transport/socket-transport.ts flush).
 */
const RAW_BATCH = defaultLimits.sendBurstBytes;

const writeWithin = (w: { write(c: Uint8Array): boolean; writableLength: number; once(e: 'drain', f: () => void): unknown }, chunk: Uint8Array): Promise<void> | undefined => {
  w.write(chunk);
  return w.writableLength <= WRITE_BUDGET ? undefined : new Promise((resolve) => w.once('drain', resolve));
};

/**
 * Writes like framewire's transport: every write of one event-loop turn is corked, and the batch
 * goes out as one writev when the turn ends (process.nextTick, where framewire's pump runs) or when
 * it reaches RAW_BATCH; then, like writeWithin, wait for 'drain' above WRITE_BUDGET.
 */
function corkedWriter(socket: net.Socket): (chunk: Uint8Array) => Promise<void> | undefined {
  let batched = 0;
  // A flush scheduled for an earlier batch may run during a later one: it only sends that batch
  // a little early, and every cork() still meets exactly one uncork().
  const flush = (): void => {
    if (batched === 0) return;
    batched = 0;
    socket.uncork();
  };
  return (chunk) => {
    if (batched === 0) {
      socket.cork();
      process.nextTick(flush);
    }
    batched += chunk.length;
    const wait = writeWithin(socket, chunk);
    if (batched >= RAW_BATCH) flush();
    return wait;
  };
}

/** http2 flow-control windows raised to the protocol maximum, for fairness (2^31 - 1). */
const H2_MAX_WINDOW = 2 ** 31 - 1;
const h2Settings: http2.Settings = { initialWindowSize: H2_MAX_WINDOW, maxFrameSize: 2 ** 24 - 1 };

// ---- raw node:net: one TCP connection per "stream", no framing ------------------------------

function rawPipe(socket: net.Socket, batched: boolean): ClientPipe {
  let dataCb: ((c: Uint8Array) => void) | undefined;
  socket.on('data', (c: Buffer) => dataCb?.(c));
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('error', reject);
  });
  const write = batched ? corkedWriter(socket) : (chunk: Uint8Array) => writeWithin(socket, chunk);
  return {
    write,
    end: () => socket.end(),
    onData: (cb) => {
      dataCb = cb;
    },
    ended,
  };
}

function rawConnect(port: number, batched: boolean): Promise<ClientConn> {
  const sockets: net.Socket[] = [];
  return Promise.resolve({
    async open(kind) {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      await once(socket, 'connect');
      sockets.push(socket);
      socket.write(encodeKindHeader(kind));
      return rawPipe(socket, batched);
    },
    close() {
      for (const s of sockets) s.destroy();
      return Promise.resolve();
    },
  });
}

/** Splits the one-line kind header off a byte stream, then hands the rest to `serveStream`. */
function headered(pipe: ServerPipe & { feed: (cb: (c: Uint8Array) => void) => void }): void {
  let header: Buffer = Buffer.alloc(0);
  // In an object: both are assigned in callbacks, which narrowing does not see.
  const cb: { data?: (c: Uint8Array) => void; end?: () => void } = {};
  let pendingEnd = false;
  const current = (): ((c: Uint8Array) => void) | undefined => cb.data;
  pipe.feed((chunk) => {
    if (cb.data !== undefined) {
      cb.data(chunk);
      return;
    }
    header = Buffer.concat([header, chunk]);
    if (header.length < 1 || header.length < 1 + header[0]!) return;
    const kind = header.subarray(1, 1 + header[0]!).toString('latin1');
    const rest = header.subarray(1 + header[0]!);
    serveStream(
      {
        ...pipe,
        onData: (f) => {
          cb.data = f;
        },
        onEnd: (f) => {
          cb.end = f;
          if (pendingEnd) f();
        },
      },
      kind,
    );
    // Read through a function: narrowing thinks cb.data is still undefined here.
    if (rest.length > 0) current()?.(rest);
  });
  pipe.onEnd(() => {
    if (cb.end !== undefined) cb.end();
    else pendingEnd = true;
  });
}

async function rawServe(): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    headered({
      feed: (cb) => socket.on('data', cb),
      onData: () => undefined,
      onEnd: (cb) => socket.on('end', cb),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      write: (c) => socket.write(c),
      end: () => socket.end(),
      held: () => socket.readableLength,
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

// ---- node:http2 ------------------------------------------------------------------------------

async function h2Connect(port: number): Promise<ClientConn> {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: h2Settings });
  session.on('error', () => undefined);
  await once(session, 'connect');
  session.setLocalWindowSize(H2_MAX_WINDOW);
  return {
    open(kind) {
      const req = session.request({ ':method': 'POST', ':path': `/${kind}` }, { endStream: false });
      let dataCb: ((c: Uint8Array) => void) | undefined;
      req.on('data', (c: Buffer) => dataCb?.(c));
      const ended = new Promise<void>((resolve, reject) => {
        req.once('end', resolve);
        req.once('error', reject);
      });
      return Promise.resolve({
        write: (chunk) => writeWithin(req, chunk),
        end: () => req.end(),
        onData: (cb) => {
          dataCb = cb;
        },
        ended,
      });
    },
    close() {
      return new Promise((resolve) => {
        session.close(resolve);
      });
    },
  };
}

async function h2Serve(): Promise<number> {
  const server = http2.createServer({ settings: h2Settings });
  server.on('session', (session) => {
    session.setLocalWindowSize(H2_MAX_WINDOW);
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.on('error', () => undefined);
    const kind = String(headers[':path']).slice(1);
    serveStream(
      {
        onData: (cb) => stream.on('data', cb),
        onEnd: (cb) => stream.on('end', cb),
        pause: () => stream.pause(),
        resume: () => stream.resume(),
        write: (c) => stream.write(c),
        end: () => stream.end(),
        held: () => stream.readableLength,
      },
      kind,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

// ---- @chainsafe/libp2p-yamux over a plain TCP socket ----------------------------------------

function yamuxPipe(stream: YamuxStream): ClientPipe {
  let dataCb: ((c: Uint8Array) => void) | undefined;
  stream.addEventListener('message', (e) => {
    eachBuffer(e.data, (c) => dataCb?.(c));
  });
  const ended = new Promise<void>((resolve, reject) => {
    stream.addEventListener('remoteCloseWrite', () => {
      resolve();
    });
    stream.addEventListener('close', (e) => {
      if (e.error !== undefined) reject(e.error);
      else resolve();
    });
  });
  return {
    write: (chunk) => (stream.send(chunk) ? undefined : stream.onDrain()),
    end: () => void stream.close(),
    onData: (cb) => {
      dataCb = cb;
    },
    ended,
  };
}

async function yamuxConnect(port: number): Promise<ClientConn> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  const muxer = yamuxOver(socket, 'outbound');
  return {
    async open(kind) {
      const stream = await muxer.createStream();
      stream.send(encodeKindHeader(kind));
      return yamuxPipe(stream);
    },
    async close() {
      await muxer.close();
      socket.destroy();
    },
  };
}

async function yamuxServe(): Promise<number> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    const muxer = yamuxOver(socket, 'inbound');
    muxer.addEventListener('stream', (e) => {
      const stream = e.detail;
      headered({
        feed: (cb) => {
          stream.addEventListener('message', (m) => {
            eachBuffer(m.data, cb);
          });
        },
        onData: () => undefined,
        onEnd: (cb) => {
          stream.addEventListener('remoteCloseWrite', cb);
        },
        pause: () => {
          stream.pause();
        },
        resume: () => {
          stream.resume();
        },
        write: (c) => void stream.send(c),
        end: () => void stream.close(),
        held: () => stream.readBufferLength,
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

// ---- framewire (default settings) ------------------------------------------------------------

/**
 * For experiments only: FW_BENCH_OPTIONS='{"limits":{...},"settings":{...}}' overrides framewire's
 * defaults on both sides. The committed results use the defaults.
 */
const fwOverrides = ((): { limits?: Record<string, number>; settings?: Record<string, number> } => {
  const text = process.env['FW_BENCH_OPTIONS'];
  return text === undefined || text === '' ? {} : (JSON.parse(text) as { limits?: Record<string, number>; settings?: Record<string, number> });
})();

async function fwClientConnect(port: number, over: 'tcp' | 'quic' = 'tcp'): Promise<ClientConn> {
  const conn = await fwConnect(over === 'quic' ? { url: `quic://127.0.0.1:${port}`, ...fwOverrides } : { port, ...fwOverrides });
  return {
    open(kind) {
      const stream = conn.open({ kind: 'bench', target: kind });
      let dataCb: ((c: Uint8Array) => void) | undefined;
      const ended = (async () => {
        for await (const c of stream.chunks()) dataCb?.(c);
      })();
      return Promise.resolve({
        write: (chunk) => stream.write(chunk),
        send: (chunk) => (stream.send(chunk) ? undefined : stream.drained()),
        end: () => void stream.end(),
        onData: (cb) => {
          dataCb = cb;
        },
        ended,
      });
    },
    async close() {
      await conn.goaway({ deadlineMs: 1000 });
    },
  };
}

async function fwServeStream(stream: FwStream): Promise<void> {
  const kind = stream.target ?? '';
  const reply = async (r: Reply): Promise<void> => {
    await stream.write(Buffer.from(JSON.stringify(r)));
    await stream.end();
  };
  if (kind === 'echo') {
    for await (const m of stream) await stream.write(m);
    await stream.end();
    return;
  }
  if (kind === 'msgs') {
    let messages = 0;
    let bytes = 0;
    for await (const m of stream) {
      messages++;
      bytes += m.length;
    }
    await reply({ bytes, messages });
    return;
  }
  if (kind === 'msgs-batches') {
    let messages = 0;
    let bytes = 0;
    for await (const batch of stream.batches()) {
      messages += batch.length;
      for (const m of batch) bytes += m.length;
    }
    await reply({ bytes, messages });
    return;
  }
  const stall = parseStallKind(kind);
  let bytes = 0;
  let report: StallReport | undefined;
  const it = stream.chunks();
  for (;;) {
    const r = await it.next();
    if (r.done === true) break;
    bytes += r.value.length;
    if (stall !== undefined && report === undefined && bytes >= stall.prefix) {
      // Stop reading: the session keeps what arrives, up to the credit it granted.
      const rssAtStallStart = process.memoryUsage.rss();
      const atStall = stream.bufferedBytes;
      const sampler = sampleRss();
      await new Promise((resolve) => setTimeout(resolve, stall.stallMs));
      const rssPeak = sampler.stop();
      const w = stream.flow;
      report = {
        rssAtStallStart,
        rssPeak,
        rssIdle: idle.rss,
        bytesDuringStall: stream.bufferedBytes - atStall,
        heldBytes: stream.bufferedBytes,
        grantedBytes: w.receiveLimit - w.consumed,
      };
    }
  }
  if (process.env['FW_BENCH_DEBUG'] !== undefined) process.stderr.write(`[fw server] ${kind} window ${stream.flow.receiveWindow} rtt ${fwSessions.get(stream)?.rttMs}\n`);
  await reply(report === undefined ? { bytes } : { bytes, stall: report });
}
const fwSessions = new WeakMap<FwStream, { readonly rttMs: number }>();

async function fwServe(over: 'tcp' | 'quic' = 'tcp'): Promise<number> {
  const server = fwCreateServer({
    ...fwOverrides,
    ...(over === 'quic' ? { quic: {} } : {}),
    onStream: (stream, session) => {
      fwSessions.set(stream, session);
      return fwServeStream(stream);
    },
  });
  const address = await server.listen(0, '127.0.0.1');
  return over === 'quic' ? server.quicAddress!.port : address.port;
}

export const clients: Record<Protocol, (port: number) => Promise<ClientConn>> = {
  'raw-64k': (port) => rawConnect(port, false),
  'raw-batched': (port) => rawConnect(port, true),
  http2: h2Connect,
  yamux: yamuxConnect,
  framewire: (port) => fwClientConnect(port),
  'framewire-quic': (port) => fwClientConnect(port, 'quic'),
};

export const servers: Record<Protocol, () => Promise<number>> = {
  // The receiving side of both raw baselines is the same plain reader.
  'raw-64k': rawServe,
  'raw-batched': rawServe,
  http2: h2Serve,
  yamux: yamuxServe,
  framewire: () => fwServe(),
  'framewire-quic': () => fwServe('quic'),
};

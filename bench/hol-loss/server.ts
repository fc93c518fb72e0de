/**
 * The study's server process (run inside the server namespace by run.ts): framewire over TCP and
 * QUIC, node:http2 and yamux, each serving two kinds of stream — `ping` (echo every byte at once)
 * and `source:<bytes per second>` (send 64 KiB chunks at that rate, 0 = as fast as the stream
 * takes them, until the client ends its direction). Bulk flows server → client because the QUIC
 * binding's server socket keeps the OS default receive buffer (212 KiB here), which drops
 * datagrams in bursts at 20 MB/s; the client's socket has 4 MiB. Prints its ports as one JSON
 * line, then serves until stdin closes.
 *
 *   tsx bench/hol-loss/server.ts <listen address>
 */

import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createServer } from '../../src/index.ts';
import type { Stream } from '../../src/session/index.ts';
import { eachBuffer, yamuxOver } from '../e2e/yamux-socket.ts';
import { fwOverrides, type ServerPorts } from './common.ts';

const host = process.argv[2] ?? '127.0.0.1';
const H2_MAX_WINDOW = 2 ** 31 - 1;
export const h2Options = { settings: { initialWindowSize: H2_MAX_WINDOW, maxFrameSize: 2 ** 24 - 1 }, maxSessionMemory: 1024 } as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** Sends CHUNKs at `rate` bytes/s (0: unpaced) through `write` until `stopped()`; then `end()`. */
async function source(rate: number, write: (c: Uint8Array) => Promise<void> | undefined, stopped: () => boolean, end: () => void): Promise<void> {
  const start = performance.now();
  let sent = 0;
  try {
    while (!stopped()) {
      if (rate > 0) {
        const wait = start + (sent / rate) * 1000 - performance.now();
        if (wait > 1) await sleep(wait);
      }
      const pending = write(CHUNK);
      sent += CHUNK.length;
      if (pending !== undefined) await pending;
      else if (rate === 0 && sent % (16 * CHUNK.length) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } catch {
    // The client went away: the run is over.
  }
  end();
}

const rateOf = (kind: string): number => Number(kind.slice('source:'.length));

async function fwStream(stream: Stream): Promise<void> {
  const kind = stream.target ?? '';
  if (kind === 'ping') {
    for await (const m of stream) stream.send(m);
    await stream.end();
    return;
  }
  let stopped = false;
  void (async () => {
    try {
      for await (const _ of stream) stopped = true;
    } catch {
      // Cancelled or lost: stop sending either way.
    }
    stopped = true;
  })();
  await source(rateOf(kind), (c) => (stream.send(c) ? undefined : stream.drained()), () => stopped, () => void stream.end().catch(() => undefined));
}

/** ping/source over a byte stream whose first byte is the kind's length, then the kind (bench/e2e's header). */
function byteStream(io: { onData(cb: (c: Uint8Array) => void): void; onEnd(cb: () => void): void; write(c: Uint8Array): Promise<void> | undefined; end(): void }): void {
  let kind: string | undefined;
  let header = Buffer.alloc(0);
  let stopped = false;
  io.onData((chunk) => {
    if (kind !== undefined) {
      if (kind === 'ping') void io.write(chunk);
      return;
    }
    header = Buffer.concat([header, chunk]);
    if (header.length < 1 || header.length < 1 + header[0]!) return;
    kind = header.subarray(1, 1 + header[0]!).toString('latin1');
    const rest = header.subarray(1 + header[0]!);
    if (kind === 'ping' && rest.length > 0) void io.write(rest);
    if (kind.startsWith('source:')) void source(rateOf(kind), (c) => io.write(c), () => stopped, () => { io.end(); });
  });
  io.onEnd(() => {
    stopped = true;
    if (kind === 'ping') io.end();
  });
}

const WRITE_BUDGET = 1024 * 1024;
function budgeted(w: { write(c: Uint8Array): boolean; writableLength: number; once(e: 'drain', f: () => void): unknown }, chunk: Uint8Array): Promise<void> | undefined {
  w.write(chunk);
  return w.writableLength <= WRITE_BUDGET ? undefined : new Promise((resolve) => w.once('drain', resolve));
}

async function main(): Promise<void> {
  const fw = createServer({ ...fwOverrides, quic: { host }, onStream: (stream) => fwStream(stream) });
  const fwAddress = await fw.listen(0, host);

  const h2 = http2.createServer(h2Options);
  h2.on('session', (session) => {
    session.setLocalWindowSize(H2_MAX_WINDOW);
    session.on('error', () => undefined);
  });
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.on('error', () => undefined);
    const kind = String(headers[':path']).slice(1);
    if (kind === 'ping') {
      stream.on('data', (c: Buffer) => stream.write(c));
      stream.on('end', () => stream.end());
      return;
    }
    let stopped = false;
    stream.on('data', () => undefined);
    stream.on('end', () => (stopped = true));
    stream.on('close', () => (stopped = true));
    void source(rateOf(kind), (c) => budgeted(stream, c), () => stopped, () => stream.end());
  });
  h2.listen(0, host);
  await once(h2, 'listening');

  const ymx = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    const muxer = yamuxOver(socket, 'inbound');
    muxer.addEventListener('stream', (e) => {
      const stream = e.detail;
      byteStream({
        onData: (cb) => {
          stream.addEventListener('message', (m) => {
            eachBuffer(m.data, cb);
          });
        },
        onEnd: (cb) => {
          stream.addEventListener('remoteCloseWrite', cb);
        },
        write: (c) => (stream.send(c) ? undefined : stream.onDrain()),
        end: () => void stream.close().catch(() => undefined),
      });
    });
  });
  ymx.listen(0, host);
  await once(ymx, 'listening');

  const ports: ServerPorts = {
    framewire: fwAddress.port,
    quic: fw.quicAddress!.port,
    quicPeerId: fw.quicAddress!.peerId,
    http2: (h2.address() as net.AddressInfo).port,
    yamux: (ymx.address() as net.AddressInfo).port,
  };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    process.exit(0);
  });
}

await main();

/**
 * The receiving side of the head-of-line study (one child process, started by bench/hol/run.ts):
 *   node --import tsx bench/hol/server.ts
 * Serves, on loopback:
 * - framewire, one listener per max_frame_payload (made on demand): `sink` streams count bytes and
 *   reply with checkpoints (SinkReply), `echo` streams send every message back;
 * - raw node:net: 4-byte big-endian length-prefixed records, each echoed whole;
 * - node:http2 with windows raised to the maximum (h2Options): `/sink` and `/echo`.
 */

import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createServer as fwCreateServer } from '../../src/index.ts';
import type { Stream } from '../../src/session/index.ts';
import { H2_LOCAL_WINDOW, h2Options, SinkCounter, type ParentMessage } from './common.ts';

async function serveFramewireStream(stream: Stream): Promise<void> {
  if (stream.target === 'echo') {
    for await (const m of stream) await stream.write(m);
    await stream.end();
    return;
  }
  const sink = new SinkCounter();
  for await (const c of stream.chunks()) sink.push(c.length);
  await stream.write(Buffer.from(JSON.stringify(sink.reply())));
  await stream.end();
}

const framewirePorts = new Map<number, Promise<number>>();

function framewirePort(maxFramePayload: number): Promise<number> {
  let port = framewirePorts.get(maxFramePayload);
  if (port === undefined) {
    const server = fwCreateServer({
      // What this receiver accepts: the bulk sender cuts its DATA to this size (FW-SCHED-5).
      settings: { maxFramePayload },
      onStream: (stream) => serveFramewireStream(stream),
    });
    port = server.listen(0, '127.0.0.1').then((a) => a.port);
    framewirePorts.set(maxFramePayload, port);
  }
  return port;
}

/** Raw TCP: every whole length-prefixed record goes straight back. */
async function tcpEchoServer(): Promise<number> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (pending.length - at >= 4) {
        const end = at + 4 + pending.readUInt32BE(at);
        if (end > pending.length) break;
        socket.write(pending.subarray(at, end));
        at = end;
      }
      pending = pending.subarray(at);
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function http2Server(): Promise<number> {
  const server = http2.createServer(h2Options);
  server.on('session', (session) => {
    session.setLocalWindowSize(H2_LOCAL_WINDOW);
    session.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.on('error', () => undefined);
    if (headers[':path'] === '/echo') {
      stream.on('data', (c: Buffer) => stream.write(c));
      stream.on('end', () => stream.end());
      return;
    }
    const sink = new SinkCounter();
    stream.on('data', (c: Buffer) => {
      sink.push(c.length);
    });
    stream.on('end', () => {
      stream.end(Buffer.from(JSON.stringify(sink.reply())));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

const [tcp, h2] = await Promise.all([tcpEchoServer(), http2Server()]);

// The orchestrator is gone (finished or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
process.on('message', (raw) => {
  const m = raw as ParentMessage;
  if (m.cmd === 'exit') process.exit(0);
  if (m.cmd !== 'framewire-port') return;
  framewirePort(m.maxFramePayload).then(
    (port) => process.send!({ type: 'port', id: m.id, port }),
    (error: unknown) => process.send!({ type: 'error', id: m.id, message: String(error) }),
  );
});
process.send!({ type: 'started', ports: { tcp, http2: h2 } });

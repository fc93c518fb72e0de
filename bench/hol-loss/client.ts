/**
 * One run of the study (a child process in the client namespace, started by run.ts): opens the
 * case's connections, asks the server for bulk streams (paced, or not; server → client), sends a
 * 64-byte ping every pingIntervalMs on its own stream, and prints one JSON line: ping round-trip
 * percentiles and stall episodes, and the bulk throughput received while the pings ran.
 *
 *   tsx bench/hol-loss/client.ts '<RunSpec as JSON>'
 */

import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { connect, type Connection } from '../../src/index.ts';
import { encodeKindHeader } from '../e2e/common.ts';
import { eachBuffer, yamuxOver } from '../e2e/yamux-socket.ts';
import { decodePing, encodePing, fwOverrides, pingRecords, pingStats, type RunResult, type RunSpec } from './common.ts';

interface PingChannel {
  send(record: Buffer): void;
  onEcho(cb: (record: Uint8Array) => void): void;
}

interface BulkChannel {
  /** Bytes received so far. */
  readonly received: () => number;
  /** Ends our direction (the server stops sending and ends). */
  finish(): void;
}

interface Setup {
  readonly ping: PingChannel;
  readonly bulk: readonly BulkChannel[];
  close(): Promise<void>;
}

// ---- framewire (TCP or QUIC) ------------------------------------------------------------------

function fwPing(conn: Connection): PingChannel {
  const stream = conn.open({ kind: 'bench', target: 'ping', urgency: 0 });
  let cb: ((r: Uint8Array) => void) | undefined;
  void (async () => {
    try {
      for await (const m of stream) cb?.(m);
    } catch {
      // The run ends with the connection.
    }
  })();
  return {
    send: (r) => void stream.send(r),
    onEcho: (f) => {
      cb = f;
    },
  };
}

function fwBulk(conn: Connection, rate: number): BulkChannel {
  const stream = conn.open({ kind: 'bench', target: `source:${rate}` });
  let bytes = 0;
  void (async () => {
    try {
      for await (const c of stream.chunks()) bytes += c.length;
    } catch {
      // The run ends with the connection.
    }
  })();
  return {
    received: () => bytes,
    finish: () => void stream.end().catch(() => undefined),
  };
}

async function framewire(spec: RunSpec, over: 'tcp' | 'tcp-separate' | 'quic'): Promise<Setup> {
  const open = (): Promise<Connection> =>
    over === 'quic'
      ? connect({ ...fwOverrides, url: `quic://${spec.host}:${spec.ports.quic}?peer=${spec.ports.quicPeerId}` })
      : connect({ ...fwOverrides, host: spec.host, port: spec.ports.framewire });
  const conns: Connection[] = [await open()];
  const ping = fwPing(conns[0]!);
  const bulk: BulkChannel[] = [];
  for (let i = 0; i < spec.bulkStreams; i++) {
    if (over === 'tcp-separate') conns.push(await open());
    bulk.push(fwBulk(conns.at(-1)!, spec.bulkRate / spec.bulkStreams));
  }
  return {
    ping,
    bulk,
    close: async () => {
      for (const c of conns) c.close();
      await Promise.all(conns.map((c) => c.closed));
    },
  };
}

// ---- node:http2 --------------------------------------------------------------------------------

async function h2(spec: RunSpec): Promise<Setup> {
  const session = http2.connect(`http://${spec.host}:${spec.ports.http2}`, { settings: { initialWindowSize: 2 ** 31 - 1, maxFrameSize: 2 ** 24 - 1 }, maxSessionMemory: 1024 });
  session.on('error', () => undefined);
  await once(session, 'connect');
  session.setLocalWindowSize(2 ** 31 - 1);
  const request = (path: string): http2.ClientHttp2Stream => {
    const req = session.request({ ':method': 'POST', ':path': path }, { endStream: false });
    req.on('error', () => undefined);
    return req;
  };
  const pingReq = request('/ping');
  let echo: ((r: Uint8Array) => void) | undefined;
  const records = pingRecords((r) => echo?.(r));
  pingReq.on('data', records);
  const bulk = Array.from({ length: spec.bulkStreams }, (): BulkChannel => {
    const req = request(`/source:${spec.bulkRate / spec.bulkStreams}`);
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    return {
      received: () => bytes,
      finish: () => void req.end(),
    };
  });
  return {
    ping: {
      send: (r) => void pingReq.write(r),
      onEcho: (f) => {
        echo = f;
      },
    },
    bulk,
    close: () =>
      new Promise((resolve) => {
        pingReq.end();
        session.close(resolve);
      }),
  };
}

// ---- yamux over one TCP connection -------------------------------------------------------------

async function yamux(spec: RunSpec): Promise<Setup> {
  const socket = net.connect({ host: spec.host, port: spec.ports.yamux, noDelay: true });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const muxer = yamuxOver(socket, 'outbound');
  const pingStream = await muxer.createStream();
  pingStream.send(encodeKindHeader('ping'));
  let echo: ((r: Uint8Array) => void) | undefined;
  const records = pingRecords((r) => echo?.(r));
  pingStream.addEventListener('message', (e) => {
    eachBuffer(e.data, records);
  });
  const bulk: BulkChannel[] = [];
  for (let i = 0; i < spec.bulkStreams; i++) {
    const stream = await muxer.createStream();
    stream.send(encodeKindHeader(`source:${spec.bulkRate / spec.bulkStreams}`));
    let bytes = 0;
    stream.addEventListener('message', (e) => {
      eachBuffer(e.data, (c) => (bytes += c.length));
    });
    bulk.push({
      received: () => bytes,
      finish: () => void stream.close().catch(() => undefined),
    });
  }
  return {
    ping: {
      send: (r) => void pingStream.send(r),
      onEcho: (f) => {
        echo = f;
      },
    },
    bulk,
    close: async () => {
      await muxer.close();
      socket.destroy();
    },
  };
}

// ---- the run -------------------------------------------------------------------------------------

function setup(spec: RunSpec): Promise<Setup> {
  switch (spec.caseName) {
    case 'fw-tcp':
    case 'fw-tcp-unpaced':
      return framewire(spec, 'tcp');
    case 'fw-tcp-separate':
      return framewire(spec, 'tcp-separate');
    case 'fw-quic':
      return framewire(spec, 'quic');
    case 'http2':
      return h2(spec);
    case 'yamux':
      return yamux(spec);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as RunSpec;
  const s = await setup(spec);
  const rtts: number[] = [];
  s.ping.onEcho((record) => {
    rtts.push(performance.now() - decodePing(record).sentAt);
  });
  await sleep(spec.warmMs);
  const bytesAtStart = s.bulk.reduce((n, b) => n + b.received(), 0);
  const started = performance.now();
  let seq = 0;
  const pinger = setInterval(() => {
    s.ping.send(encodePing(seq++, performance.now()));
  }, spec.pingIntervalMs);
  await sleep(spec.durationMs);
  clearInterval(pinger);
  const seconds = (performance.now() - started) / 1000;
  const bytes = s.bulk.reduce((n, b) => n + b.received(), 0) - bytesAtStart;
  const sent = seq;
  for (let waited = 0; rtts.length < sent && waited < spec.graceMs; waited += 20) await sleep(20);
  for (const b of s.bulk) b.finish();
  const result: RunResult = {
    caseName: spec.caseName,
    ping: pingStats(rtts.slice(0, sent), sent, spec.graceMs),
    bulk: { bytes, seconds: Math.round(seconds * 1000) / 1000, mbPerSecond: Math.round((bytes / 1e6 / seconds) * 100) / 100 },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await Promise.race([s.close(), sleep(3000)]);
  process.exit(0);
}

await main();

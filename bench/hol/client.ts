/**
 * The sending side of the head-of-line study (one child process, started by bench/hol/run.ts):
 *   node --import tsx bench/hol/client.ts
 * For each `run` command it opens N bulk streams that write as fast as the connection takes them,
 * lets them run alone for `warmMs`, then measures 64-byte request -> echo round trips, one in
 * flight at a time, for `durationMs`, over the point's transport; then it stops the bulk streams
 * and reports the latency percentiles and the bulk bytes the server received in the same window.
 */

import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { connect, type Connection } from '../../src/index.ts';
import type { Stream } from '../../src/session/index.ts';
import { pseudoRandomBytes } from '../lib/report.ts';
import { bytesAt, epochMs, H2_LOCAL_WINDOW, h2Options, type ParentMessage, type PointResult, type PointSpec, type SinkReply } from './common.ts';

/** One interactive channel: `request` resolves when the whole echo is back. */
interface Interactive {
  request(message: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** The bulk streams: `stop` makes every writer end its stream; resolves with the servers' replies. */
interface Bulk {
  stop(): Promise<SinkReply[]>;
}

/** Resolves the waiting request once `size` bytes have come back (byte-stream transports). */
function echoWaiter(size: number): { feed: (bytes: number) => void; wait: () => Promise<void> } {
  let got = 0;
  let resolve: (() => void) | undefined;
  return {
    feed: (bytes) => {
      got += bytes;
      if (got >= size && resolve !== undefined) {
        got -= size;
        const r = resolve;
        resolve = undefined;
        r();
      }
    },
    wait: () =>
      new Promise<void>((r) => {
        resolve = r;
      }),
  };
}

/** The bulk writers, stopped by setting `state.stop`. A writer that fails early is reported by stop(), not as an unhandled rejection. */
function bulkOf(state: { stop: boolean }, writers: Promise<SinkReply>[]): Bulk {
  for (const w of writers) w.catch(() => undefined);
  return {
    stop: () => {
      state.stop = true;
      return Promise.all(writers);
    },
  };
}

// ---- framewire ---------------------------------------------------------------------------------

function framewireInteractive(conn: Connection, urgent: boolean): Interactive {
  const stream = conn.open({ kind: 'hol', target: 'echo', ...(urgent ? { urgency: 0 } : {}) });
  const messages = stream[Symbol.asyncIterator]();
  return {
    async request(message) {
      // Failures surface through the reader below.
      stream.write(message).catch(() => undefined);
      const r = await messages.next();
      if (r.done === true) throw new Error('echo stream ended early');
    },
    async close() {
      await stream.end();
      while ((await messages.next()).done !== true);
    },
  };
}

async function readReply(stream: Stream): Promise<SinkReply> {
  const parts: Uint8Array[] = [];
  for await (const m of stream) parts.push(m);
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as SinkReply;
}

function framewireBulk(conn: Connection, n: number, chunk: Uint8Array): Bulk {
  const state = { stop: false };
  const writers = Array.from({ length: n }, async () => {
    const stream = conn.open({ kind: 'hol', target: 'sink' });
    const reply = readReply(stream);
    // Awaited below; a failure before that must not count as unhandled.
    reply.catch(() => undefined);
    while (!state.stop) await stream.write(chunk);
    await stream.end();
    return reply;
  });
  return bulkOf(state, writers);
}

// ---- raw TCP (the separate-connection baseline) -------------------------------------------------

async function tcpInteractive(port: number, size: number): Promise<Interactive> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const echo = echoWaiter(4 + size);
  socket.on('data', (c: Buffer) => {
    echo.feed(c.length);
  });
  const record = Buffer.alloc(4 + size);
  record.writeUInt32BE(size, 0);
  return {
    request(message) {
      record.set(message, 4);
      const done = echo.wait();
      socket.write(record);
      return done;
    },
    close() {
      socket.destroy();
      return Promise.resolve();
    },
  };
}

// ---- node:http2 (windows raised, see h2Options) ---------------------------------------------

async function http2Connect(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`, h2Options);
  session.on('error', () => undefined);
  await once(session, 'connect');
  session.setLocalWindowSize(H2_LOCAL_WINDOW);
  return session;
}

function http2Bulk(session: http2.ClientHttp2Session, n: number, chunk: Uint8Array): Bulk {
  const state = { stop: false };
  const writers = Array.from({ length: n }, async () => {
    const req = session.request({ ':method': 'POST', ':path': '/sink' });
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    const ended = once(req, 'end');
    ended.catch(() => undefined);
    while (!state.stop) {
      // write() returns false above the stream's highWaterMark: wait for 'drain' (rejects on 'error').
      if (!req.write(chunk)) await once(req, 'drain');
    }
    req.end();
    await ended;
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as SinkReply;
  });
  return bulkOf(state, writers);
}

function http2Interactive(session: http2.ClientHttp2Session, size: number): Interactive {
  const req = session.request({ ':method': 'POST', ':path': '/echo' });
  const echo = echoWaiter(size);
  req.on('data', (c: Buffer) => {
    echo.feed(c.length);
  });
  const failed = new Promise<never>((_resolve, reject) => {
    req.once('error', reject);
  });
  failed.catch(() => undefined);
  const ended = once(req, 'end');
  ended.catch(() => undefined);
  return {
    async request(message) {
      const done = echo.wait();
      req.write(message);
      await Promise.race([done, failed]);
    },
    async close() {
      req.end();
      await ended;
    },
  };
}

// ---- one point ---------------------------------------------------------------------------------

const bulkChunks = new Map<number, Buffer>();

async function runPoint(spec: PointSpec): Promise<PointResult> {
  let chunk = bulkChunks.get(spec.bulkWriteSize);
  if (chunk === undefined) {
    chunk = pseudoRandomBytes(spec.bulkWriteSize);
    bulkChunks.set(spec.bulkWriteSize, chunk);
  }
  const cpu = process.cpuUsage();
  let bulk: Bulk;
  let interactive: Interactive;
  let closeAll: () => Promise<void>;
  /** framewire's send counters of the bulk connection, read at the window's edges (undefined for http2). */
  let sent: (() => { frames: number; bytes: number }) | undefined;
  if (spec.transport === 'http2') {
    const session = await http2Connect(spec.ports.http2);
    bulk = http2Bulk(session, spec.bulkStreams, chunk);
    interactive = http2Interactive(session, spec.messageSize);
    closeAll = () =>
      new Promise<void>((resolve) => {
        session.close(resolve);
      });
  } else {
    const conn = await connect({
      port: spec.ports.framewire,
      settings: { maxFramePayload: spec.maxFramePayload },
      limits: { schedulingPolicy: spec.policy === 'fifo' ? 'fifo' : 'round-robin' },
    });
    // Bulk first: under FIFO the interactive stream queues behind streams that became ready earlier.
    bulk = framewireBulk(conn, spec.bulkStreams, chunk);
    interactive = spec.transport === 'framewire' ? framewireInteractive(conn, spec.policy === 'urgency') : await tcpInteractive(spec.ports.tcp, spec.messageSize);
    closeAll = () => conn.goaway({ deadlineMs: 2000 });
    sent = () => ({ frames: conn.session.stats.framesOut, bytes: conn.session.stats.dataBytesOut });
  }

  await new Promise((resolve) => setTimeout(resolve, spec.warmMs));

  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const message = pseudoRandomBytes(spec.messageSize, 7);
  let censored = 0;
  const sentAtStart = sent?.();
  const tStart = epochMs();
  const deadline = performance.now() + spec.durationMs;
  let giveUpTimer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<'censored'>((resolve) => {
    giveUpTimer = setTimeout(() => {
      resolve('censored');
    }, spec.durationMs + spec.tailMs);
  });
  while (performance.now() < deadline) {
    const start = performance.now();
    const request = interactive.request(message);
    // A request given up on may still fail later, when the connection closes.
    request.catch(() => undefined);
    const outcome = await Promise.race([request, giveUp]);
    histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
    if (outcome === 'censored') {
      censored++;
      break;
    }
  }
  clearTimeout(giveUpTimer);
  const tEnd = epochMs();
  const sentAtEnd = sent?.();

  const replies = await bulk.stop();
  if (censored === 0) await interactive.close();
  else void interactive.close().catch(() => undefined);
  await closeAll();

  let bulkBytes = 0;
  for (const r of replies) bulkBytes += bytesAt(r.marks, tEnd) - bytesAt(r.marks, tStart);
  // Frames the bulk connection sent in the window, less the requests when they shared it (one
  // 64-byte DATA frame each); the few control frames (CREDIT, PING) are left in: < 0.1 %.
  let meanBulkFrame = 0;
  if (sentAtStart !== undefined && sentAtEnd !== undefined) {
    const requests = spec.transport === 'framewire' ? histogram.totalCount : 0;
    const frames = sentAtEnd.frames - sentAtStart.frames - requests;
    const bytes = sentAtEnd.bytes - sentAtStart.bytes - requests * spec.messageSize;
    meanBulkFrame = frames > 0 ? bytes / frames : 0;
  }
  const latency = {
    count: histogram.totalCount,
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    maxUs: histogram.maxValue,
    meanUs: histogram.mean,
  };
  histogram.destroy();
  const used = process.cpuUsage(cpu);
  return {
    latency,
    censored,
    bulkBytes,
    bulkSeconds: (tEnd - tStart) / 1000,
    meanBulkFrame,
    clientCpu: (used.user + used.system) / 1e6,
  };
}

// The orchestrator is gone (finished or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
process.on('message', (raw) => {
  const m = raw as ParentMessage;
  if (m.cmd === 'exit') process.exit(0);
  if (m.cmd !== 'run') return;
  runPoint(m.spec).then(
    (result) => process.send!({ type: 'result', id: m.id, result }),
    (error: unknown) => process.send!({ type: 'error', id: m.id, message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.send!({ type: 'started' });

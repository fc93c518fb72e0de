/**
 * The sending side of the end-to-end benchmark, one child process per protocol:
 *   node --import tsx bench/e2e/client.ts <protocol>
 * It waits for `run` commands from the orchestrator over IPC, connects to the server child, runs
 * the case and reports timings and its own CPU time.
 */

import * as hdr from 'hdr-histogram-js';
import { pseudoRandomBytes } from '../lib/report.ts';
import { cpuSince, PROTOCOLS, type CaseResult, type CaseSpec, type ParentMessage, type Protocol, type Reply } from './common.ts';
import { clients, type ClientConn, type ClientPipe } from './protocols.ts';
import { WindowProfiler } from './window-profile.ts';

const proto = process.argv[2] as Protocol;
if (!PROTOCOLS.includes(proto)) throw new Error(`unknown protocol ${process.argv[2]}`);

const payloads = new Map<number, Buffer>();
function payload(size: number): Buffer {
  let p = payloads.get(size);
  if (p === undefined) {
    p = pseudoRandomBytes(size);
    payloads.set(size, p);
  }
  return p;
}

/** Collects the server's reply (JSON) until it ends its direction. */
function reply(pipe: ClientPipe): Promise<Reply> {
  const parts: Buffer[] = [];
  pipe.onData((c) => parts.push(Buffer.from(c)));
  return pipe.ended.then(() => JSON.parse(Buffer.concat(parts).toString('utf8')) as Reply);
}

async function sendBulk(pipe: ClientPipe, total: number, chunk: Uint8Array): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk.length) {
    const wait = pipe.write(sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent));
    if (wait !== undefined) await wait;
  }
  pipe.end();
}

function check(what: string, got: number | undefined, want: number): void {
  if (got !== want) throw new Error(`${proto} ${what}: server counted ${got}, expected ${want}`);
}

async function runCase(conn: ClientConn, spec: CaseSpec): Promise<CaseResult> {
  switch (spec.case) {
    case 'bulk': {
      const chunk = payload(spec.writeSize);
      const pipes: ClientPipe[] = [];
      for (let i = 0; i < spec.streams; i++) pipes.push(await conn.open('sink'));
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        pipes.map(async (p) => {
          const r = reply(p);
          await sendBulk(p, spec.bytesPerStream, chunk);
          check('bytes', (await r).bytes, spec.bytesPerStream);
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      return { seconds, bytes: spec.streams * spec.bytesPerStream, clientCpu: cpuSince(cpu) };
    }
    case 'msgs': {
      const pipe = await conn.open(spec.api === 'batched' ? 'msgs-batches' : 'msgs');
      const r = reply(pipe);
      const size = spec.messageSize;
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      if (proto === 'framewire' && spec.api === 'batched') {
        // The high-rate API: send() queues without a promise, drained() only when it said full
        // (node's write()/'drain' contract, as the http2 loop below uses it).
        const m = payload(size);
        const send = pipe.send!;
        for (let i = 0; i < spec.messages; i++) {
          const wait = send(m);
          if (wait !== undefined) await wait;
        }
      } else if (proto === 'framewire' || proto === 'framewire-quic') {
        // framewire keeps message boundaries itself: one write() is one message.
        const m = payload(size);
        for (let i = 0; i < spec.messages; i++) await pipe.write(m);
      } else {
        // 4-byte length prefix + body. raw: records batched into ~64 KiB writes (the limit; raw-batched
        // corks those writes into writevs of up to 1 MiB); http2: one write per message, as an
        // application sending messages would.
        const record = Buffer.alloc(4 + size);
        record.writeUInt32BE(size, 0);
        payload(size).copy(record, 4);
        if (proto === 'raw-64k' || proto === 'raw-batched' || proto === 'yamux') {
          // yamux: batched too. One send() per 68-byte record is pathological in
          // @chainsafe/libp2p-yamux 8 (≈700 messages/s, the client CPU-bound: its write buffer is
          // re-sliced per send), which would say nothing about the protocol.
          const perBatch = Math.floor((64 * 1024) / record.length);
          const batch = Buffer.alloc(perBatch * record.length);
          for (let i = 0; i < perBatch; i++) record.copy(batch, i * record.length);
          for (let left = spec.messages; left > 0; left -= perBatch) {
            const n = Math.min(left, perBatch);
            const wait = pipe.write(n === perBatch ? batch : batch.subarray(0, n * record.length));
            if (wait !== undefined) await wait;
          }
        } else {
          for (let i = 0; i < spec.messages; i++) {
            const wait = pipe.write(record);
            if (wait !== undefined) await wait;
          }
        }
      }
      pipe.end();
      const got = await r;
      const seconds = (performance.now() - t0) / 1000;
      check('messages', got.messages, spec.messages);
      return { seconds, bytes: spec.messages * size, messages: spec.messages, clientCpu: cpuSince(cpu) };
    }
    case 'hol': {
      let other: ClientConn | undefined;
      const bulk = await conn.open('sink');
      let ping: ClientPipe;
      if (spec.separate) {
        other = await clients[proto](portOf(conn));
        ping = await other.open('echo');
      } else {
        ping = await conn.open('echo');
      }
      const pingEnded = ping.ended;
      let pending: (() => void) | undefined;
      let echoed = 0;
      ping.onData((c) => {
        echoed += c.length;
        if (echoed >= spec.pingSize && pending !== undefined) {
          echoed -= spec.pingSize;
          const p = pending;
          pending = undefined;
          p();
        }
      });
      const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
      const pingMsg = payload(spec.pingSize);
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      let bulkSeconds = 0;
      const state = { bulkDone: false };
      const bulkRun = (async () => {
        const r = reply(bulk);
        await sendBulk(bulk, spec.bulkBytes, payload(spec.writeSize));
        check('bytes', (await r).bytes, spec.bulkBytes);
        bulkSeconds = (performance.now() - t0) / 1000;
        state.bulkDone = true;
      })();
      bulkRun.catch(() => undefined);
      let count = 0;
      const samplesUs: number[] = [];
      while (!state.bulkDone || count < spec.minPings) {
        const start = performance.now();
        const echo = new Promise<void>((resolve) => {
          pending = resolve;
        });
        const wait = ping.write(pingMsg);
        if (wait !== undefined) await wait;
        await echo;
        const us = Math.max(1, Math.round((performance.now() - start) * 1000));
        histogram.recordValue(us);
        samplesUs.push(us);
        count++;
      }
      await bulkRun;
      ping.end();
      await pingEnded;
      const seconds = (performance.now() - t0) / 1000;
      const pings = { count, p50Us: histogram.getValueAtPercentile(50), p99Us: histogram.getValueAtPercentile(99), maxUs: histogram.maxValue, samplesUs };
      histogram.destroy();
      await other?.close();
      return { seconds, bytes: spec.bulkBytes, clientCpu: cpuSince(cpu), pings, bulkSeconds };
    }
    case 'stall': {
      const pipe = await conn.open(`stall:${spec.prefix}:${spec.stallMs}`);
      const r = reply(pipe);
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      await sendBulk(pipe, spec.bytes, payload(spec.writeSize));
      const got = await r;
      check('bytes', got.bytes, spec.bytes);
      const seconds = (performance.now() - t0) / 1000;
      return { seconds, bytes: spec.bytes, clientCpu: cpuSince(cpu), ...(got.stall === undefined ? {} : { stall: got.stall }) };
    }
  }
}

const ports = new WeakMap<ClientConn, number>();
function portOf(conn: ClientConn): number {
  return ports.get(conn)!;
}

const profiler = WindowProfiler.fromEnv();

// The orchestrator is gone (finished or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
process.on('message', (raw) => {
  const m = raw as ParentMessage;
  if (m.cmd === 'exit') process.exit(0);
  if (m.cmd !== 'run') return;
  void (async () => {
    try {
      const conn = await clients[proto](m.port);
      ports.set(conn, m.port);
      await profiler?.start();
      const result = await runCase(conn, m.spec);
      await profiler?.stop();
      await conn.close();
      process.send!({ type: 'result', id: m.id, result });
    } catch (error) {
      process.send!({ type: 'error', id: m.id, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});
process.send!({ type: 'ready' });

/**
 * Heartbeats (FW-HB-1, FW-HB-2, FW-HB-4) over real TCP: PINGs keep being answered while a bulk
 * stream saturates the link, and a peer that goes silent is declared dead with IDLE_TIMEOUT.
 */

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Stream } from '../../src/index.ts';
import { FrameType, HANDSHAKE_MAX_PAYLOAD } from '../../src/wire/index.ts';
import { expectFwError, FrameReader, Harness, KiB, serverHello, sleep, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const HEARTBEAT = { heartbeatIntervalMs: 50, idleTimeoutMs: 1000 };

describe('heartbeat over TCP', () => {
  it('FW-HB-2 FW-SCHED-1: ping() keeps resolving while one stream saturates the link for ~1.5 s, and the connection survives', async () => {
    let sunk = 0;
    const { server, port } = await h.server({
      settings: HEARTBEAT,
      onStream: async (stream: Stream) => {
        for await (const c of stream.chunks()) sunk += c.length;
        await stream.end();
      },
    });
    const client = await h.client({ port, settings: HEARTBEAT });
    const bulk = client.open({ kind: 'sink' });
    const chunk = randomBytes(256 * KiB);
    const BULK_MS = 1500;
    const PINGS = 5;
    const start = performance.now();
    let sent = 0;
    const rtts: number[] = [];
    let failed = 0;
    const writing = (async () => {
      // The link stays saturated until the pings below were all answered (however slowly a loaded
      // machine runs them) and for BULK_MS at least; bounded by count too.
      for (let i = 0; i < 200_000 && (performance.now() - start < BULK_MS || rtts.length + failed < PINGS); i++) {
        await bulk.write(chunk);
        sent += chunk.length;
      }
      await bulk.end();
    })();
    let bulkEnded = false;
    let bulkMs = 0;
    void writing.finally(() => {
      bulkEnded = true;
      bulkMs = performance.now() - start;
    });

    // Every ping sent while the bulk stream runs must be answered: waited for, not raced against a
    // fixed 900 ms that a loaded machine can miss (a lost or starved answer still fails: it hangs
    // past the backstop, or resolves NaN when the connection dies).
    while (!bulkEnded) {
      const r = await within(client.ping(), 10_000, 'ping answered during bulk');
      if (Number.isNaN(r)) failed++;
      else rtts.push(r);
      await sleep(20);
    }
    await within(writing, 10_000, 'bulk writer');
    expect((await within(bulk.outcome, 5000, 'bulk outcome')).status).toBe('completed');
    const sorted = [...rtts].sort((a, b) => a - b);
    const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    console.log(
      `[heartbeat] ${(sent / 1024 / 1024).toFixed(0)} MiB in ${bulkMs.toFixed(0)} ms; ${rtts.length} pings answered during bulk: ` +
        `RTT min ${q(0).toFixed(1)} / p50 ${q(0.5).toFixed(1)} / p90 ${q(0.9).toFixed(1)} / max ${q(1).toFixed(1)} ms`,
    );
    expect(sunk).toBe(sent);
    expect(failed).toBe(0);
    expect(rtts.length).toBeGreaterThanOrEqual(PINGS);
    expect(client.session.isOpen).toBe(true);
    const serverConnection = [...server.connections][0]!;
    expect(serverConnection.session.isOpen).toBe(true);
    expect(client.session.stats.errors.get('IDLE_TIMEOUT')).toBeUndefined();
    expect(serverConnection.session.stats.errors.get('IDLE_TIMEOUT')).toBeUndefined();
    expect(client.session.rttMs).toBeGreaterThan(0);
  });

  it('FW-HB-1: an idle connection is kept alive by heartbeat PINGs well past idle_timeout_ms', async () => {
    const { server, port } = await h.server({ settings: { heartbeatIntervalMs: 50, idleTimeoutMs: 400 }, onStream: () => undefined });
    const client = await h.client({ port, settings: { heartbeatIntervalMs: 50, idleTimeoutMs: 400 } });
    const before = client.session.stats.framesIn;
    await sleep(1000);
    expect(client.session.isOpen).toBe(true);
    expect([...server.connections][0]?.session.isOpen).toBe(true);
    // PINGs and their answers flowed while the application was silent.
    expect(client.session.stats.framesIn - before).toBeGreaterThanOrEqual(3);
  });

  it('FW-HB-4: a raw peer that completes the handshake and then goes silent makes the client fail with IDLE_TIMEOUT', async () => {
    let reader: FrameReader | undefined;
    const { port } = await h.rawServer((socket) => {
      reader = new FrameReader(socket, HANDSHAKE_MAX_PAYLOAD);
      socket.write(serverHello({ heartbeatIntervalMs: 0, idleTimeoutMs: 0 }));
      // …and never another byte, never an answer to a PING.
    });
    const client = await h.client({ port, settings: { heartbeatIntervalMs: 50, idleTimeoutMs: 400 } });
    const stream = client.open({ kind: 'anything' });
    const started = performance.now();
    const end = await within(client.closed, 5000, 'client closed');
    const waited = performance.now() - started;
    const error = expectFwError(end.error, 'IDLE_TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(300);
    const o = await within(stream.outcome, 1000, 'stream outcome');
    expect(o.status).toBe('failed');
    if (o.status === 'failed') expectFwError(o.error, 'IDLE_TIMEOUT');
    expect(client.session.stats.errors.get('IDLE_TIMEOUT')).toBe(1);
    // The silent side received the client's HELLO, its PINGs, then ERROR IDLE_TIMEOUT on stream 0, last.
    await waitFor(() => reader?.ended === true, 5000, 'client closed the socket');
    const frames = reader!.frames;
    expect(frames[0]?.type).toBe(FrameType.HELLO);
    expect(frames.filter((f) => f.type === FrameType.PING).length).toBeGreaterThanOrEqual(1);
    const last = frames.at(-1)!;
    expect(last.type).toBe(FrameType.ERROR);
    expect(last.stream).toBe(0);
    if (last.type === FrameType.ERROR) expect(last.payload.code).toBe(error.wireCode);
    console.log(`[heartbeat] silent peer detected after ${waited.toFixed(0)} ms (idle_timeout_ms 400); ${frames.filter((f) => f.type === FrameType.PING).length} unanswered PINGs`);
  });

  it('FW-HB-4: pausing the server socket (the server reads nothing and, with its heartbeat off, says nothing) makes the client fail with IDLE_TIMEOUT', async () => {
    const { server, port } = await h.server({ settings: { heartbeatIntervalMs: 0, idleTimeoutMs: 0 }, onStream: () => undefined });
    const client = await h.client({ port, settings: { heartbeatIntervalMs: 50, idleTimeoutMs: 400 } });
    await client.ping();
    await waitFor(() => server.connections.size === 1, 2000, 'server connection');
    const serverSide = [...server.connections][0]!;
    serverSide.socket!.pause();
    const end = await within(client.closed, 5000, 'client closed');
    expectFwError(end.error, 'IDLE_TIMEOUT');
    serverSide.socket!.resume();
  });
});

/**
 * The benchmark kinds on the server side (spec/PROTOCOL.md, "Benchmark kinds", FW-PERF-1..5): what
 * each kind does, and each of its limits at the limit. Loopback, in-process server and client; ~1
 * s.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { startServerApp } from '../../src/cli/server-app.ts';
import { pino } from 'pino';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, Stream } from '../../src/index.ts';
import { perfService, PerfKind, type PerfLimits } from '../../src/perf/index.ts';
import { expectFwError, Harness, KiB, readAll, settle, within } from '../integration/helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

async function perfClient(limits: Partial<PerfLimits> = {}): Promise<Connection> {
  const { port } = await h.server({ services: [perfService(limits)] });
  return h.client({ port });
}

/** Reads the stream to its end: its messages, or the error it failed with. */
async function finish(stream: Stream): Promise<{ messages: Uint8Array[]; trailer: Stream['trailer'] }> {
  const messages = await within(readAll(stream), 5000, `${stream.kind} end`);
  return { messages, trailer: stream.trailer };
}

describe('perf.sink', () => {
  it('reads every byte and reports them in its DONE trailer, with elapsed time and CPU (FW-PERF-2)', async () => {
    const conn = await perfClient();
    const sink = conn.open({ kind: PerfKind.sink });
    const sizes = [1, 64, 70 * KiB, 1000, 300 * KiB];
    for (const n of sizes) await sink.write(Buffer.alloc(n, 7));
    await sink.end();
    const { messages, trailer } = await finish(sink);
    expect(messages).toEqual([]);
    expect(trailer?.['bytes']).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(trailer?.['elapsed_ms']).toEqual(expect.any(Number));
    expect(trailer?.['cpu_us']).toBeGreaterThan(0);
  });

  it('accepts maxStreamBytes exactly and fails the stream with LIMIT_EXCEEDED one byte beyond (FW-PERF-5)', async () => {
    const conn = await perfClient({ maxStreamBytes: 100 * KiB });
    const exact = conn.open({ kind: PerfKind.sink });
    await exact.write(Buffer.alloc(100 * KiB));
    await exact.end();
    expect((await finish(exact)).trailer?.['bytes']).toBe(100 * KiB);

    const over = conn.open({ kind: PerfKind.sink });
    await over.write(Buffer.alloc(100 * KiB));
    await over.write(Buffer.alloc(1));
    const r = await settle(finish(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'LIMIT_EXCEEDED');
  });
});

describe('perf.source', () => {
  it('sends exactly `bytes` in messages of `message_size`, the last one shorter, and counts them in its trailer (FW-PERF-3)', async () => {
    const conn = await perfClient();
    const source = conn.open({ kind: PerfKind.source, meta: { bytes: 10_000, message_size: 3000 } });
    await source.end();
    const { messages, trailer } = await finish(source);
    expect(messages.map((m) => m.length)).toEqual([3000, 3000, 3000, 1000]);
    expect(trailer).toMatchObject({ bytes: 10_000, messages: 4 });
  });

  it('stops at duration_ms when that comes first, and reports what it sent (FW-PERF-3)', async () => {
    const conn = await perfClient();
    const source = conn.open({ kind: PerfKind.source, meta: { message_size: 1024, duration_ms: 50 } });
    await source.end();
    const { messages, trailer } = await finish(source);
    const received = messages.reduce((a, m) => a + m.length, 0);
    expect(received).toBeGreaterThan(0);
    expect(trailer).toMatchObject({ bytes: received, messages: messages.length });
  });

  it('fails a malformed request with MALFORMED_PAYLOAD (FW-PERF-3)', async () => {
    const conn = await perfClient();
    for (const meta of [undefined, { bytes: 10 }, { bytes: -1, message_size: 10 }, { bytes: 10, message_size: 0 }, { message_size: 10 }, { bytes: 10, message_size: 10, duration_ms: 1.5 }]) {
      const source = conn.open({ kind: PerfKind.source, ...(meta === undefined ? {} : { meta }) });
      const r = await settle(finish(source));
      expect(r.ok, JSON.stringify(meta)).toBe(false);
      if (!r.ok) expectFwError(r.error, 'MALFORMED_PAYLOAD');
    }
  });

  it('takes requests at its limits and refuses one beyond any of them with LIMIT_EXCEEDED (FW-PERF-5)', async () => {
    const limits = { maxStreamBytes: 8 * KiB, maxSourceMessageSize: 4 * KiB, maxStreamDurationMs: 5000 };
    const conn = await perfClient(limits);
    const atLimits = conn.open({ kind: PerfKind.source, meta: { bytes: 8 * KiB, message_size: 4 * KiB, duration_ms: 5000 } });
    expect((await finish(atLimits)).trailer).toMatchObject({ bytes: 8 * KiB, messages: 2 });
    for (const meta of [
      { bytes: 8 * KiB + 1, message_size: 1024 },
      { bytes: 1024, message_size: 4 * KiB + 1 },
      { bytes: 1024, message_size: 1024, duration_ms: 5001 },
    ]) {
      const r = await settle(finish(conn.open({ kind: PerfKind.source, meta })));
      expect(r.ok, JSON.stringify(meta)).toBe(false);
      if (!r.ok) expectFwError(r.error, 'LIMIT_EXCEEDED');
    }
  });

  it('ends at its byte limit when only a duration was asked for (FW-PERF-3)', async () => {
    const conn = await perfClient({ maxStreamBytes: 5000 });
    const source = conn.open({ kind: PerfKind.source, meta: { message_size: 2000, duration_ms: 10_000 } });
    const { messages, trailer } = await finish(source);
    expect(messages.map((m) => m.length)).toEqual([2000, 2000, 1000]);
    expect(trailer).toMatchObject({ bytes: 5000, messages: 3 });
  });
});

describe('perf.echo', () => {
  it('sends every message back unchanged, boundaries kept, and counts them in its trailer (FW-PERF-4)', async () => {
    const conn = await perfClient();
    const echo = conn.open({ kind: PerfKind.echo });
    const sent = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(200 * KiB, 3), Buffer.from('last')];
    const reading = finish(echo);
    for (const m of sent) await echo.write(m);
    await echo.end();
    const { messages, trailer } = await reading;
    expect(messages.map((m) => m.length)).toEqual(sent.map((m) => m.length));
    // One comparison of the bytes: a deep equality of 200 KiB buffers element by element takes a second.
    expect(Buffer.concat(messages).equals(Buffer.concat(sent))).toBe(true);
    expect(trailer).toMatchObject({ bytes: 200 * KiB + 5, messages: 4 });
  });
});

describe('limits shared by the kinds', () => {
  it('admits maxStreams perf streams at once, refuses one more with REFUSED_STREAM, and admits again after one ends (FW-PERF-5)', async () => {
    const conn = await perfClient({ maxStreams: 3 });
    const open = [0, 1, 2].map(() => conn.open({ kind: PerfKind.sink }));
    // A round trip on each proves the server accepted it (and counts it) before the next OPEN.
    for (const s of open) await s.write(Buffer.from('x'));
    const refused = await settle(finish(conn.open({ kind: PerfKind.echo })));
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(expectFwError(refused.error, 'REFUSED_STREAM').retryable).toBe(true);
    await open[0]!.end();
    await finish(open[0]!);
    const again = conn.open({ kind: PerfKind.echo });
    const reading = finish(again);
    await again.write(Buffer.from('y'));
    await again.end();
    expect((await reading).trailer).toMatchObject({ messages: 1 });
  });

  it('fails a stream still open after maxStreamDurationMs with TIMEOUT (FW-PERF-5)', async () => {
    const conn = await perfClient({ maxStreamDurationMs: 30 });
    const sink = conn.open({ kind: PerfKind.sink });
    await sink.write(Buffer.from('x'));
    const r = await settle(finish(sink));
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'TIMEOUT');
  });

  it('are off in `framewire serve` unless enabled: without --perf, perf.sink is NOT_FOUND (FW-PERF-1)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'fw-perf-serve-'));
    const logger = pino({ level: 'silent' });
    const off = await startServerApp({ host: '127.0.0.1', port: 0, dataDir: join(dataDir, 'off'), logger, durable: false });
    const on = await startServerApp({ host: '127.0.0.1', port: 0, dataDir: join(dataDir, 'on'), logger, durable: false, perf: {} });
    try {
      expect(off.perfKinds).toEqual([]);
      const offConn = await h.client({ port: off.address.port });
      const r = await settle(finish(offConn.open({ kind: PerfKind.sink })));
      expect(r.ok).toBe(false);
      if (!r.ok) expectFwError(r.error, 'NOT_FOUND');

      expect(on.perfKinds).toEqual([PerfKind.sink, PerfKind.source, PerfKind.echo]);
      const onConn = await h.client({ port: on.address.port });
      const sink = onConn.open({ kind: PerfKind.sink });
      await sink.end();
      expect((await finish(sink)).trailer).toMatchObject({ bytes: 0 });
    } finally {
      await h.cleanup();
      await Promise.all([off.close(100), on.close(100)]);
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});

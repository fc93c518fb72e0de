/**
 * The driver behind `framewire perf`: it moves what it was asked to, both ways, measures latency
 * before and under load, and believes a server's trailer only when it matches what moved.
 * Loopback, in-process server; ~1 s.
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { StreamService } from '../../src/index.ts';
import { perfService, PerfKind, runPerf, type PerfOptions } from '../../src/perf/index.ts';
import { expectFwError, Harness, KiB, MiB, settle } from '../integration/helpers.ts';
import { invalidArgument } from '../session/helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const base = { host: '127.0.0.1', streams: 1, messageSize: 64 * KiB, direction: 'send', probeIntervalMs: 0, idleProbes: 0, probeSize: 64 } as const;

async function perfPort(services: StreamService[] = [perfService()]): Promise<number> {
  return (await h.server({ services })).port;
}

describe('runPerf', () => {
  it('sends exactly the bytes asked for over N streams, and the server confirms each stream', async () => {
    const port = await perfPort();
    const r = await runPerf({ ...base, port, streams: 3, bytes: 3 * MiB + 5, messageSize: 100 * KiB });
    expect(r.bytes).toBe(3 * MiB + 5);
    // 3 MiB + 5 split 1 MiB + 2, + 2, + 1: each stream 10 full messages and one of the remainder.
    expect(r.messages).toBe(33);
    expect(r.mbPerSec).toBeCloseTo(r.bytes / r.seconds / 1e6, 6);
    expect(r.client.cpuSeconds).toBeGreaterThan(0);
    expect(r.server?.cpuSecPerGiB).toBeGreaterThan(0);
  });

  it('receives exactly the bytes asked for from perf.source', async () => {
    const port = await perfPort();
    const r = await runPerf({ ...base, port, direction: 'receive', streams: 2, bytes: 2 * MiB, messageSize: 1000 });
    expect(r.bytes).toBe(2 * MiB);
    expect(r.messages).toBe(2 * Math.ceil(MiB / 1000));
  });

  it('runs for a duration in both directions', async () => {
    const port = await perfPort();
    for (const direction of ['send', 'receive'] as const) {
      const r = await runPerf({ ...base, port, direction, durationMs: 150 });
      expect(r.bytes, direction).toBeGreaterThan(0);
      expect(r.seconds, direction).toBeGreaterThanOrEqual(0.14);
    }
  });

  it('measures PING and perf.echo round trips before the load and under it', async () => {
    const port = await perfPort();
    const r = await runPerf({ ...base, port, durationMs: 300, probeIntervalMs: 20, idleProbes: 4 });
    expect(r.latency.pingIdle?.count).toBe(4);
    expect(r.latency.echoIdle?.count).toBe(4);
    expect(r.latency.pingLoaded?.count).toBeGreaterThan(0);
    expect(r.latency.echoLoaded?.count).toBe(r.latency.pingLoaded?.count);
    const l = r.latency.echoLoaded!;
    expect(l.minUs).toBeLessThanOrEqual(l.p50Us);
    expect(l.p50Us).toBeLessThanOrEqual(l.p99Us);
    expect(l.p99Us).toBeLessThanOrEqual(l.maxUs);
  });

  it('rejects a server whose trailer miscounts the bytes (PROTOCOL_ERROR) or lacks one (MALFORMED_PAYLOAD)', async () => {
    const lying = (trailer: (bytes: number) => Record<string, unknown>): StreamService => ({
      kinds: [PerfKind.sink],
      async handle(stream) {
        let bytes = 0;
        for await (const c of stream.chunks()) bytes += c.length;
        await stream.end(trailer(bytes));
      },
    });
    const off = await settle(runPerf({ ...base, port: await perfPort([lying((b) => ({ bytes: b - 1, elapsed_ms: 1 }))]), bytes: MiB }));
    expect(off.ok).toBe(false);
    if (!off.ok) expectFwError(off.error, 'PROTOCOL_ERROR');
    const none = await settle(runPerf({ ...base, port: await perfPort([lying(() => ({}))]), bytes: MiB }));
    expect(none.ok).toBe(false);
    if (!none.ok) expectFwError(none.error, 'MALFORMED_PAYLOAD');
  });

  it('reports NOT_FOUND from a server without the benchmark kinds', async () => {
    const port = await perfPort([]);
    const r = await settle(runPerf({ ...base, port, bytes: KiB }));
    expect(r.ok).toBe(false);
    if (!r.ok) expectFwError(r.error, 'NOT_FOUND');
  });

  it('rejects bad options (never throws synchronously)', async () => {
    const bad: Partial<PerfOptions>[] = [{ streams: 0 }, { messageSize: 0 }, { bytes: 1, durationMs: 1 }, {}, { bytes: 1.5 }, { probeIntervalMs: -1, bytes: 1 }];
    for (const o of bad) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = runPerf({ ...base, port: 1, ...o });
      }).not.toThrow();
      await expect(promise, JSON.stringify(o)).rejects.toThrow(invalidArgument);
    }
  });
});

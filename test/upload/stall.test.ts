/**
 * The uploader notices a connection that stopped making progress (spec/UPLOAD.md FW-UP-38): after
 * two chunks a proxy swallows every byte with the sockets open (as after a flipped length field,
 * where the receiver waits for a frame that never completes), and on a manual clock the uploader
 * gives the connection up exactly stallTimeoutMs after the last progress, resumes on a new
 * connection and finishes — instead of waiting for the 30 s idle timeout.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/session/index.ts';
import { uploadWith } from '../../src/upload/index.ts';
import { StallWatch } from '../../src/upload/stall-watch.ts';
import { FaultProxy as SilencingProxy } from '../events/helpers.ts';
import { Harness, KiB, MiB, randomFile, readAllBytes, removeTempDirs, sha256Hex, sleep, uploadServer, waitFor, within } from './helpers.ts';

const h = new Harness();
const proxies: SilencingProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
  await removeTempDirs();
});

describe('uploader: stall detection', () => {
  it('FW-UP-38 FW-ERR-4: no progress for stallTimeoutMs while chunks are in flight → TIMEOUT, resumed on a new connection', async () => {
    const clock = new ManualClock();
    const STALL = 1000;
    const { port, store } = await uploadServer(h, { memory: true });
    const proxy = new SilencingProxy(port);
    proxies.push(proxy);
    const proxyPort = await proxy.listen();
    const file = await randomFile(MiB);
    let connects = 0;
    const retries: string[] = [];
    const running = uploadWith(async (signal) => h.client({ port: connects++ === 0 ? proxyPort : port, signal }), file.path, {
      chunkSize: 64 * KiB,
      inflight: 2,
      clock,
      stallTimeoutMs: STALL,
      retry: { initialDelayMs: 10, maxDelayMs: 10 },
      onProgress: (p) => {
        if (p.chunksConfirmed === 2) proxy.blackhole = true;
      },
      onRetry: (r) => retries.push(`${r.error.code}: ${r.error.message}`),
    });
    await waitFor(() => proxy.blackhole, 5000, 'two chunks confirmed');
    // Chunks are in flight and nothing moves. The clock has not moved either: the last progress was at 0.
    await sleep(50);
    clock.advance(STALL - 1);
    await sleep(50);
    expect(connects).toBe(1);
    clock.advance(1);
    await waitFor(() => retries.length === 1, 2000, 'the stall noticed on the manual clock');
    expect(retries[0]).toMatch(/^TIMEOUT: no progress on the connection for 1000 ms/u);
    for (let i = 0; i < 100 && connects < 2; i++) {
      clock.advance(10);
      await sleep(5);
    }
    const result = await within(running, 10_000, 'upload after the resume');
    expect(connects).toBe(2);
    expect(result.stats.reconnects).toBe(1);
    expect(sha256Hex(await readAllBytes((await store.openObject(result.objectId))!))).toBe(file.sha256);
  });

  it('FW-UP-38: only time spent waiting on the connection counts; progress restarts the wait', async () => {
    const clock = new ManualClock();
    let stalls = 0;
    const watch = new StallWatch(clock, 100, () => stalls++);
    // Reading a slow source, backing off, committing: nothing tracked, nothing counts.
    clock.advance(10_000);
    let finish!: () => void;
    const work = watch.track(new Promise<void>((resolve) => { finish = resolve; }));
    clock.advance(99);
    watch.touch();
    clock.advance(99);
    expect(stalls).toBe(0);
    clock.advance(1);
    expect(stalls).toBe(1);
    finish();
    await work;
    // Stopped after a stall: tracking again arms nothing.
    void watch.track(new Promise(() => undefined));
    clock.advance(1000);
    expect(stalls).toBe(1);
  });
});

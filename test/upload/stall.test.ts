/**
 * The uploader notices a connection that stopped making progress (spec/UPLOAD.md FW-UP-38): after
 * two chunks the connection swallows every byte with both ends open (as after a flipped length
 * field, where the receiver waits for a frame that never completes), and on a manual clock the
 * uploader gives the connection up exactly stallTimeoutMs after the last progress, resumes on a
 * new connection and finishes — instead of waiting for the 30 s idle timeout. Client, server and
 * source are in memory: frames cross in event-loop turns, no time passes meanwhile, and the test
 * waits for what happened (bytes swallowed), never for a number of turns that real I/O would make
 * depend on the machine's load (a file source did: a chunk read by the thread pool after the clock
 * had moved started its wait late, and the stall came after the test stopped looking).
 */

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryUploadStore, UploadService } from '../../src/api/upload.ts';
import { ManualClock } from '../../src/session/index.ts';
import { uploadWith } from '../../src/upload/index.ts';
import { StallWatch } from '../../src/upload/stall-watch.ts';
import { advance, MemoryNetwork, turn, until } from '../integration/memory-network.ts';
import { KiB, MiB, readAllBytes, removeTempDirs, sha256Hex, within } from './helpers.ts';

const networks: MemoryNetwork[] = [];
afterEach(async () => {
  for (const n of networks.splice(0)) n.close();
  await removeTempDirs();
});

describe('uploader: stall detection', () => {
  it('FW-UP-38 FW-ERR-4: no progress for stallTimeoutMs while chunks are in flight → TIMEOUT, resumed on a new connection', async () => {
    const clock = new ManualClock();
    const STALL = 1000;
    const store = new MemoryUploadStore();
    const net = new MemoryNetwork({ clock, services: [new UploadService({ store, sweepIntervalMs: 0 })] });
    networks.push(net);
    const CHUNK = 64 * KiB;
    const source = randomBytes(MiB);
    const retries: string[] = [];
    let silenced = false;
    const running = uploadWith(net.connect, source, {
      chunkSize: CHUNK,
      inflight: 2,
      clock,
      stallTimeoutMs: STALL,
      retry: { initialDelayMs: 10, maxDelayMs: 10 },
      onProgress: (p) => {
        if (p.chunksConfirmed === 2 && !silenced) {
          silenced = true;
          net.silence();
        }
      },
      onRetry: (r) => retries.push(`${r.error.code}: ${r.error.message}`),
    });
    await until(() => silenced, 'two chunks confirmed');
    // The next two chunks are sent into the silenced link and nothing moves. The clock has not
    // moved either: the last progress was at 0.
    await until(() => net.swallowed >= 2 * CHUNK, 'the two chunks in flight swallowed');
    clock.advance(STALL - 1);
    for (let i = 0; i < 50; i++) await turn();
    expect(net.attempts).toBe(1);
    expect(retries).toEqual([]);
    clock.advance(1);
    await until(() => retries.length === 1, 'the stall noticed on the manual clock');
    expect(retries[0]).toMatch(/^TIMEOUT: no progress on the connection for 1000 ms/u);
    // The retry waits 5–10 ms on the same clock.
    await advance(clock, 10, 1);
    const result = await within(running, 10_000, 'upload after the resume');
    expect(net.attempts).toBe(2);
    expect(result.stats.reconnects).toBe(1);
    expect(sha256Hex(await readAllBytes((await store.openObject(result.objectId))!))).toBe(sha256Hex(source));
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

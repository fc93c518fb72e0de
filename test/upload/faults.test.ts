/**
 * Real faults, end to end over TCP loopback (spec/UPLOAD.md §11.9): connections cut at random
 * bytes (20 seeds; and, over TCP and QUIC alike, cut at random chunks by destroying the client's
 * connection), chunk bytes corrupted in flight with the frame CRC recomputed (so only the
 * chunk checksum can notice), and the server process killed with SIGKILL and restarted on the
 * same data directory. Every upload ends byte-identical (SHA-256), re-sends at most the chunks
 * that were in flight at each failure, and leaves nothing half-written behind.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/api/upload.ts';
import type { ErrorCodeName } from '../../src/index.ts';
import { FlipProxy } from '../integration/flip-proxy.ts';
import { uploadWith, type UploadResult } from '../../src/upload/index.ts';
import {
  assertNoDebris,
  FaultProxy,
  Harness,
  kill9,
  KiB,
  MiB,
  prng,
  randomFile,
  readAllBytes,
  recordingConnector,
  removeTempDirs,
  sha256File,
  sha256Hex,
  spawnServer,
  tempDir,
  transports,
  uploadServer,
  within,
} from './helpers.ts';

const h = new Harness();
const proxies: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await h.cleanup();
  await removeTempDirs();
});

const fastRetry = { initialDelayMs: 5, maxDelayMs: 100, maxAttempts: 12 };

describe('uploads under real faults', () => {
  it('FW-UP-31 FW-UP-33 FW-UP-34: 20 seeds, the connection cut at random bytes 1-3 times: byte-identical, re-sending only in-flight chunks', async () => {
    const { port, store, dataDir } = await uploadServer(h);
    const seeds = Array.from({ length: 20 }, (_, i) => 1000 + i);
    const summaries: string[] = [];
    const committed: string[] = [];
    const runSeed = async (seed: number): Promise<void> => {
      const rnd = prng(seed);
      const size = Math.floor((1 + rnd() * 2.5) * MiB);
      const inflight = 1 + Math.floor(rnd() * 6);
      const cuts = 1 + Math.floor(rnd() * 3);
      const file = await randomFile(size);
      // Later connections carry only what is missing, so their cut points shrink.
      const cutPoints = Array.from({ length: cuts }, (_, n) => Math.floor(200 + (rnd() * size * 0.9) / (n + 1)));
      const proxy = new FaultProxy(port, (n) => (n < cuts ? { cutAfterBytes: cutPoints[n]! } : {}));
      proxies.push(proxy);
      const proxyPort = await proxy.listen();
      const connector = recordingConnector(h, proxyPort);
      const result: UploadResult = await uploadWith(connector.connect, file.path, { chunkSize: 64 * KiB, inflight, retry: fastRetry });
      expect(result.sha256, `seed ${seed}`).toBe(file.sha256);
      const stored = await readAllBytes((await store.openObject(result.objectId))!);
      expect(sha256Hex(stored), `seed ${seed}`).toBe(file.sha256);
      // The first cut always lands (its connection carries the whole file); later ones may fall past the end.
      expect(proxy.cuts, `seed ${seed}`).toBeGreaterThanOrEqual(1);
      expect(result.stats.reconnects, `seed ${seed}`).toBe(proxy.cuts);
      // The resume point: per failure, at most the chunks that were in flight are sent again.
      expect(result.stats.chunksResent, `seed ${seed}`).toBeLessThanOrEqual(proxy.cuts * inflight);
      committed.push(result.objectId);
      summaries.push(`seed ${seed}: ${(size / MiB).toFixed(2)} MiB, inflight ${inflight}, ${proxy.cuts} cuts, ${result.stats.chunksResent} chunks re-sent`);
    };
    // Four seeds at a time over one server.
    for (let i = 0; i < seeds.length; i += 4) await Promise.all(seeds.slice(i, i + 4).map(runSeed));
    console.log(`[upload faults]\n  ${summaries.join('\n  ')}`);
    // Chunk writes cut mid-way are cleaned up as their streams fail.
    await within((async () => {
      for (;;) {
        try {
          await assertNoDebris(dataDir!, committed);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })(), 5000, 'no debris');
  });

  it('FW-UP-17 FW-UP-33: chunk bytes corrupted in flight (frame CRC recomputed) are caught by the chunk checksum and re-sent', async () => {
    const { port, store } = await uploadServer(h);
    const proxy = new FaultProxy(port, () => ({ corruptChunkFrames: 3 }));
    proxies.push(proxy);
    const proxyPort = await proxy.listen();
    const file = await randomFile(MiB + 77);
    const result = await upload(file.path, { port: proxyPort, chunkSize: 128 * KiB, inflight: 3, retry: fastRetry });
    expect(proxy.corrupted).toBe(3);
    expect(result.sha256).toBe(file.sha256);
    expect(sha256Hex(await readAllBytes((await store.openObject(result.objectId))!))).toBe(file.sha256);
    expect(result.stats.reconnects).toBe(0);
    expect(result.stats.chunksResent).toBeGreaterThanOrEqual(1);
    expect(result.stats.chunksResent).toBeLessThanOrEqual(3);
  });

  it('FW-UP-33 FW-ERR-4: a flipped bit in a frame\'s length field (8 → 134,217,736) fails the connection with FRAME_SIZE; the uploader resumes on a new one', async () => {
    const { port, store } = await uploadServer(h);
    // The fourth chunk DATA frame of the first connection claims 2^27 more bytes than it has.
    const proxy = new FlipProxy(port, (n) => (n === 0 ? { dataFrame: 3 } : undefined));
    proxies.push(proxy);
    const proxyPort = await proxy.listen();
    const file = await randomFile(MiB + 99);
    const seen: ErrorCodeName[] = [];
    const result = await upload(file.path, { port: proxyPort, chunkSize: 64 * KiB, inflight: 2, retry: fastRetry, onRetry: (r) => seen.push(r.error.code) });
    expect(proxy.flipped).toBe(1);
    expect(seen).toEqual(['FRAME_SIZE']);
    expect(result.stats.reconnects).toBe(1);
    expect(sha256Hex(await readAllBytes((await store.openObject(result.objectId))!))).toBe(file.sha256);
  });

  it('FW-UP-31 FW-UP-51: the server is killed with SIGKILL twice mid-upload and restarted on the same data dir; the upload resumes, not restarts', { timeout: 60_000 }, async () => {
    const dataDir = await tempDir();
    let server = await spawnServer(dataDir);
    const port = server.port;
    const file = await randomFile(6 * MiB);
    const chunkSize = 64 * KiB;
    const inflight = 4;
    let uploadId: string | undefined;
    let confirmed = 0;
    const kills: number[] = [];
    let restarting: Promise<void> | undefined;
    const killAt = [0.25, 0.6];
    try {
      const result = await upload(file.path, {
        port,
        chunkSize,
        inflight,
        retry: { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 40 },
        onProgress: (p) => {
          uploadId = p.uploadId;
          confirmed = p.bytesConfirmed;
          const next = killAt[kills.length];
          if (restarting === undefined && next !== undefined && p.bytesConfirmed >= next * p.totalBytes) {
            kills.push(p.bytesConfirmed);
            const victim = server.child;
            restarting = (async () => {
              await kill9(victim);
              await new Promise((r) => setTimeout(r, 200));
              server = await spawnServer(dataDir, port);
            })().finally(() => {
              restarting = undefined;
            });
          }
        },
      });
      expect(kills).toHaveLength(2);
      expect(result.uploadId).toBe(uploadId);
      expect(result.sha256).toBe(file.sha256);
      expect(confirmed).toBe(file.bytes.length);
      expect(await sha256File(`${dataDir}/objects/${result.objectId}`)).toBe(file.sha256);
      // Never a restart from zero: beyond the chunks in flight at each kill, nothing is sent twice.
      expect(result.stats.chunksResent).toBeLessThanOrEqual(kills.length * inflight);
      expect(result.stats.bytesSent).toBeLessThanOrEqual(file.bytes.length + kills.length * inflight * chunkSize);
      await assertNoDebris(dataDir, [result.objectId]);
    } finally {
      await restarting;
      await kill9(server.child);
    }
  });
});

describe.each(transports)('uploads with connections cut over %s', (transport) => {
  const ht = new Harness(transport);
  afterEach(async () => {
    await ht.cleanup();
    await removeTempDirs();
  });

  it('FW-UP-31 FW-UP-34: 6 seeds, the connection destroyed after 1-3 random confirmed chunks: byte-identical, re-sending only in-flight chunks', async () => {
    const { port, store } = await uploadServer(ht);
    for (let seed = 0; seed < 6; seed++) {
      const rnd = prng(0xcafe + seed);
      const size = Math.floor((0.5 + rnd()) * MiB);
      const inflight = 1 + Math.floor(rnd() * 4);
      const chunks = Math.ceil(size / (64 * KiB));
      const cutAt = new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => 1 + Math.floor(rnd() * (chunks - 2))));
      const file = await randomFile(size);
      const connector = recordingConnector(ht, port);
      let cuts = 0;
      const result = await within(
        uploadWith(connector.connect, file.path, {
          chunkSize: 64 * KiB,
          inflight,
          retry: fastRetry,
          onProgress: (p) => {
            if (cutAt.delete(p.chunksConfirmed)) {
              cuts++;
              connector.connections.at(-1)?.destroy();
            }
          },
        }),
        15_000,
        `seed ${seed}`,
      );
      expect(result.sha256, `seed ${seed}`).toBe(file.sha256);
      expect(sha256Hex(await readAllBytes((await store.openObject(result.objectId))!)), `seed ${seed}`).toBe(file.sha256);
      expect(cuts, `seed ${seed}`).toBeGreaterThanOrEqual(1);
      expect(result.stats.reconnects, `seed ${seed}`).toBe(cuts);
      expect(result.stats.chunksResent, `seed ${seed}`).toBeLessThanOrEqual(cuts * inflight);
    }
  });
});

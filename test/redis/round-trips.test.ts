/**
 * What one chunk costs in Redis (issue 19: "metadata is tiny next to the bytes"): a chunk write is
 * two round trips — the read it is checked against (the record and that chunk's entry, one
 * MULTI..EXEC, UploadMetaStore.getChunk) and the script that records
 * it on that version (the fencing check, the chunk, its TTL) — and the expiry is written only when
 * a quarter TTL of extension is pending. Counted as the server sees them (MONITOR,
 * round-trip-counter.ts) on a redis-server of this file's own.
 * Cost: one redis-server, a few KiB: about 1 s.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisUploadStore } from '../../src/upload/index.ts';
import { removeTempDirs, sha256Hex, tempDir } from '../upload/helpers.ts';
import { RoundTripCounter } from './round-trip-counter.ts';
import { RedisServer, redisServerBinary } from './server.ts';

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield b;
}

describe.skipIf(redisServerBinary === undefined)('Redis round trips of the upload store', () => {
  let redis: RedisServer;
  let counter: RoundTripCounter;
  beforeAll(async () => {
    redis = await RedisServer.start();
    counter = await RoundTripCounter.start(redis.url);
  });
  afterAll(async () => {
    counter.close();
    await redis.destroy();
    await removeTempDirs();
  });

  it('a chunk costs two round trips; the expiry is written once a quarter TTL of extension is pending', async () => {
    let now = 1_000_000;
    const store = new RedisUploadStore({ redis: redis.url, dataDir: await tempDir('fw-rtt-'), now: () => now, ttlMs: 60_000 });
    try {
      await store.ready;
      const data = Buffer.alloc(1000, 3);
      const { info } = await store.create('alice', { size: 8000, chunkSize: 1000 });
      const cost: number[] = [];
      for (let i = 0; i < 8; i++) {
        // The seventh chunk comes 20 s later: more than a quarter of the TTL to extend.
        if (i === 6) now += 20_000;
        const before = await counter.count();
        const r = await store.writeChunk(info.id, { index: i, offset: i * 1000, length: 1000, sha256: sha256Hex(data), token: 1 }, once(data));
        cost.push((await counter.count()) - before);
        expect(r.duplicate).toBe(false);
        expect(r.expiresAt).toBe(i < 6 ? 1_060_000 : 1_080_000);
      }
      // The extension: one more read and the compare-and-set of the record.
      expect(cost).toEqual([2, 2, 2, 2, 2, 2, 4, 2]);
      expect((await store.get(info.id))?.expiresAt).toBe(1_080_000);
    } finally {
      await store.close();
    }
  });
});

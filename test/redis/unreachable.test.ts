/**
 * Redis unreachable (issue 19; spec/UPLOAD.md §11.9): while the redis-server is down, every store
 * operation fails with INTERNAL — retryable — within a bounded time, never hangs and never changes
 * half a session; once it is back, the same store reconnects by itself and the session continues.
 * Cost: one redis-server (persistent), stopped and started once: about 6 s, mostly the reconnect
 * backoff (the first failure came after 0.34 s on the loaded machine).
 */

import { afterEach, describe, expect, it } from 'vitest';
import { RedisUploadStore } from '../../src/upload/index.ts';
import { expectFwError, removeTempDirs, settle, sha256Hex, tempDir } from '../upload/helpers.ts';
import { RedisServer, redisServerBinary } from './server.ts';

afterEach(removeTempDirs);

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield bytes;
}

describe.skipIf(redisServerBinary === undefined)('RedisUploadStore with Redis down', () => {
  it('FW-UP-31: operations fail with INTERNAL (retryable) within 5 s while Redis is down, and succeed after it is back', async () => {
    const redis = await RedisServer.start({ persistent: true });
    const store = new RedisUploadStore({ redis: redis.url, dataDir: await tempDir('fw-down-') });
    try {
      const data = Buffer.alloc(1000, 7);
      const { info } = await store.create('alice', { size: 2000, chunkSize: 1000 });
      await store.writeChunk(info.id, { index: 0, offset: 0, length: 1000, sha256: sha256Hex(data), token: 1 }, once(data));
      await redis.stop();

      const t0 = performance.now();
      const failed = await settle(store.writeChunk(info.id, { index: 1, offset: 1000, length: 1000, sha256: sha256Hex(data), token: 1 }, once(data)));
      const error = expectFwError(failed.ok ? undefined : failed.error, 'INTERNAL');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/Redis/);
      expect(performance.now() - t0).toBeLessThan(5000);
      expectFwError(await store.acquire(info.id).catch((e: unknown) => e), 'INTERNAL');

      await redis.restart();
      // The same store, reconnected: the session is as it was acknowledged (chunk 0 only).
      const after = (await store.get(info.id))!;
      expect([...after.stored.keys()]).toEqual([0]);
      expect(after.token).toBe(1);
      await store.writeChunk(info.id, { index: 1, offset: 1000, length: 1000, sha256: sha256Hex(data), token: 1 }, once(data));
      expect((await store.commit(info.id, { token: 1 })).sha256).toBe(sha256Hex(Buffer.concat([data, data])));
    } finally {
      await store.close();
      await redis.destroy();
    }
  }, 30_000);
});

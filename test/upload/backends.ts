/**
 * Every upload storage backend, for the suites that run against each (parametrised, never copied):
 * store.test.ts (the rules of the state machine), backends.test.ts (the two backend interfaces)
 * and quota.test.ts. The Redis backend (issue 19) runs against a real redis-server that the first
 * test using it starts (test/redis/server.ts); without the binary it is left out, loudly.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { openRedis } from '../../src/redis-connection.ts';
import { RedisMetaStore } from '../../src/upload/redis-meta.ts';
import {
  FsBlobStore,
  FsMetaStore,
  FsUploadStore,
  MemoryBlobStore,
  MemoryMetaStore,
  MemoryUploadStore,
  RedisUploadStore,
  SharedDirBlobStore,
} from '../../src/upload/index.ts';
import type { UploadBlobStore, UploadGeometry, UploadMetaStore, UploadStateMachine, UploadStoreOptions } from '../../src/upload/index.ts';
import { redisServerBinary, sharedRedis, stopSharedRedis } from '../redis/server.ts';
import { tempDir } from './helpers.ts';

export interface BackendParts {
  readonly meta: UploadMetaStore;
  readonly blobs: UploadBlobStore;
  /**
   * For a blob store that learns from the metadata which chunk it keeps (the shared directory):
   * records a kept chunk there, as the state machine does before it calls kept(). Absent elsewhere.
   */
  readonly record?: (upload: UploadGeometry, index: number, bytes: Uint8Array) => Promise<void>;
}

export interface Backend {
  /** The state machine over this backend, fresh, as an application constructs it. */
  readonly store: (options?: UploadStoreOptions) => Promise<UploadStateMachine>;
  /** The two backend objects alone, fresh and ready: for the interface tests and for wrapping. */
  readonly parts: () => Promise<BackendParts>;
}

const noStep = (): void => undefined;

const clients: Redis[] = [];
const stores: RedisUploadStore[] = [];
afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const s of stores.splice(0)) await s.close();
  await stopSharedRedis();
});

/** A client of the shared test redis-server and a key prefix no other store uses. */
async function redisKeys(): Promise<{ redis: Redis; keyPrefix: string }> {
  const redis = openRedis((await sharedRedis()).url);
  clients.push(redis);
  return { redis, keyPrefix: `fw-test-${randomBytes(6).toString('hex')}:` };
}

const redisBackend: Backend = {
  store: async (options) => {
    const store = new RedisUploadStore({ redis: (await sharedRedis()).url, keyPrefix: `fw-test-${randomBytes(6).toString('hex')}:`, dataDir: await tempDir(), ...options });
    stores.push(store);
    return store;
  },
  parts: async () => {
    const { redis, keyPrefix } = await redisKeys();
    const meta = new RedisMetaStore(redis, { keyPrefix, retainMs: 1000, now: Date.now });
    const blobs = new SharedDirBlobStore({ dir: await tempDir(), storedChunks: async (id) => (await meta.get(id))?.chunks });
    await blobs.prepare();
    const record = async (u: UploadGeometry, index: number, bytes: Uint8Array): Promise<void> => {
      const now = Date.now();
      await meta.create({ id: u.id, owner: 'o', size: u.size, chunkSize: u.chunkSize, chunkCount: u.chunkCount, token: 1, state: 'receiving', createdAt: now, expiresAt: now + 60_000, ttlMs: 60_000 });
      const s = (await meta.get(u.id))!;
      await meta.addChunk(u.id, s.version, index, createHash('sha256').update(bytes).digest('hex'));
    };
    return { meta, blobs, record };
  },
};

export const backends: readonly (readonly [string, Backend])[] = [
  [
    'memory',
    {
      store: (options) => Promise.resolve(new MemoryUploadStore(options)),
      parts: () => Promise.resolve({ meta: new MemoryMetaStore(), blobs: new MemoryBlobStore() }),
    },
  ],
  [
    'fs',
    {
      store: async (options) => new FsUploadStore({ dataDir: await tempDir(), ...options }),
      parts: async () => {
        const dir = await tempDir();
        const meta = new FsMetaStore(dir, true, noStep);
        const blobs = new FsBlobStore(dir, { durable: true, writeBatchBytes: 1024 * 1024, step: noStep });
        await meta.prepare();
        await blobs.prepare();
        return { meta, blobs };
      },
    },
  ],
  ...(redisServerBinary === undefined ? [] : [['redis', redisBackend] as const]),
];

/**
 * What a `RedisUploadStore` runs over (redis-store.ts): the Redis metadata store, the shared
 * directory's blob store and the commit lease, on one connection. Apart from the store, so that
 * a state machine of one's own can run over them (the tests hold a commit at its blob step), and
 * so that the store's declarations name no ioredis type (index.ts says why).
 */

import { statfs } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { checkInteger } from '../arguments.ts';
import { openRedis } from '../redis-connection.ts';
import { RedisCommitLock } from './redis-lock.ts';
import { RedisMetaStore } from './redis-meta.ts';
import type { RedisUploadStoreOptions } from './redis-store.ts';
import { SharedDirBlobStore } from './shared-blobs.ts';
import type { UploadBackends } from './state-machine.ts';
import { resolveStoreOptions } from './store.ts';

/** The default of `commandTimeoutMs`: far above a script's time on a loaded Redis, far below a client's patience. */
const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5000;

/** The backends of a `RedisUploadStore` and the connection they share (the caller closes it). */
export function redisUploadBackends(options: RedisUploadStoreOptions): { backends: UploadBackends; redis: Redis } {
  const commandTimeoutMs = checkInteger('RedisUploadStore commandTimeoutMs', options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 1);
  if (options.commitLeaseMs !== undefined) checkInteger('RedisUploadStore commitLeaseMs', options.commitLeaseMs, 3);
  const redis = openRedis(options.redis, { commandTimeoutMs });
  const keyPrefix = options.keyPrefix ?? 'fw:';
  const resolved = resolveStoreOptions(options);
  const meta = new RedisMetaStore(redis, { keyPrefix, retainMs: resolved.retainMs, now: resolved.now });
  const blobs = new SharedDirBlobStore({
    dir: options.dataDir,
    ...(options.durable === undefined ? {} : { durable: options.durable }),
    storedChunks: async (id) => (await meta.get(id))?.chunks,
  });
  const backends: UploadBackends = {
    meta,
    blobs,
    commitLock: new RedisCommitLock(redis, { keyPrefix, ...(options.commitLeaseMs === undefined ? {} : { leaseMs: options.commitLeaseMs }) }),
    freeBytes: async () => {
      const s = await statfs(options.dataDir);
      return s.bavail * s.bsize;
    },
    prepare: () => blobs.prepare(),
  };
  return { backends, redis };
}

/**
 * The UploadStore of a cluster (issue 19): the upload state machine over metadata in Redis
 * (redis-meta.ts), chunk bytes in a directory every node shares (shared-blobs.ts), and commits
 * serialised across nodes by a lease in Redis (redis-lock.ts). A client that was cut from one node
 * resumes, chunks and commits on any other (spec/UPLOAD.md §11.9).
 *
 * The connection reconnects by itself with backoff (ioredis); while Redis is unreachable every
 * operation fails with INTERNAL (retryable) after a bounded wait, and none changes half a session.
 */

import { statfs } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { RedisCommitLock } from './redis-lock.ts';
import { openRedis } from '../redis-connection.ts';
import { RedisMetaStore } from './redis-meta.ts';
import { SharedDirBlobStore } from './shared-blobs.ts';
import { UploadStateMachine, type UploadBackends } from './state-machine.ts';
import { resolveStoreOptions, type UploadStoreOptions } from './store.ts';

export interface RedisUploadStoreOptions extends UploadStoreOptions {
  /** A redis:// URL: the store opens its connection, reconnects with backoff, and closes it with the store. */
  readonly redis: string;
  /** The chunk and object directory every node mounts. */
  readonly dataDir: string;
  /** Prefix of every Redis key. Default `fw:`. */
  readonly keyPrefix?: string;
  /** fsync chunk files, manifests and directories before acknowledging. Default true. */
  readonly durable?: boolean;
  /** How long a node that died mid-commit holds up that upload's commit. Default 10 s. */
  readonly commitLeaseMs?: number;
  /**
   * How long one Redis command may go unanswered before the operation fails with INTERNAL
   * (retryable): the bound on a wait for a Redis that hangs (stopped, or cut off with the
   * connection open). Default 5 s (DEFAULT_REDIS_COMMAND_TIMEOUT_MS).
   */
  readonly commandTimeoutMs?: number;
}

/** The default of `commandTimeoutMs`: far above a script's time on a loaded Redis, far below a client's patience. */
const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5000;

/**
 * The backends of a `RedisUploadStore` and the connection they share (the caller closes it): what
 * the store runs over, for a state machine of one's own (the tests hold a commit at its blob step).
 */
export function redisUploadBackends(options: RedisUploadStoreOptions): { backends: UploadBackends; redis: Redis } {
  const redis = openRedis(options.redis, { commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS });
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

export class RedisUploadStore extends UploadStateMachine {
  readonly dataDir: string;
  readonly #redis: Redis;

  constructor(options: RedisUploadStoreOptions) {
    const { backends, redis } = redisUploadBackends(options);
    super(backends, options);
    this.dataDir = options.dataDir;
    this.#redis = redis;
  }

  override async close(): Promise<void> {
    await super.close();
    this.#redis.disconnect();
  }
}

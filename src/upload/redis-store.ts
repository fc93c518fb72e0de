/**
 * The UploadStore of a cluster (issue 19): the upload state machine over metadata in Redis
 * (redis-meta.ts), chunk bytes in a directory every node shares (shared-blobs.ts), and commits
 * serialised across nodes by a lease in Redis (redis-lock.ts). A client that was cut from one node
 * resumes, chunks and commits on any other (spec/UPLOAD.md §11.9).
 *
 * The connection reconnects by itself with backoff (ioredis); while Redis is unreachable every
 * operation fails with INTERNAL (retryable) after a bounded wait, and none changes half a session.
 */

import type { Redis } from 'ioredis';
import { redisUploadBackends } from './redis-backends.ts';
import { UploadStateMachine } from './state-machine.ts';
import type { UploadStoreOptions } from './store.ts';

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
   * connection open). Default 5 s.
   */
  readonly commandTimeoutMs?: number;
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

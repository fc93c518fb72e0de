/**
 * The commit of an upload, serialised across server nodes (issue 19): a lease in Redis per upload.
 *
 * One process serialises the commits of an upload in memory (state-machine.ts); nodes sharing a
 * store need the same, or a node that finds an upload `committing` cannot tell a commit running
 * elsewhere from one that died, and would reopen it under the running commit. The holder of the
 * lease commits; every other node waits for the lease and then reads the outcome (FW-UP-25,
 * FW-UP-28). The lease is `SET key token NX PX lease`, renewed at a third of its length while held
 * and released with a compare-and-delete script, so a node that died frees the upload after one
 * lease, and a node never releases another's lease.
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FramewireError } from '../errors.ts';
import type { CommitLock } from './backends.ts';
import { unavailable } from './redis-meta.ts';
import { isStoreUnavailable } from './records.ts';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export interface RedisCommitLockOptions {
  readonly keyPrefix: string;
  /** How long a lease lasts without renewal: how long a dead node holds up the upload. Default 10 s. */
  readonly leaseMs?: number;
  /** How long a node waits for another's lease before answering LEASE_CONFLICT (retryable). Default 60 s. */
  readonly maxWaitMs?: number;
}

/** First and largest pause between two attempts to take a held lease. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 100;
/** Pause between two attempts to release a lease while Redis is unreachable. */
const RELEASE_RETRY_PAUSE_MS = 100;

export class RedisCommitLock implements CommitLock {
  readonly #redis: Redis;
  readonly #p: string;
  readonly #leaseMs: number;
  readonly #maxWaitMs: number;

  constructor(redis: Redis, options: RedisCommitLockOptions) {
    this.#redis = redis;
    this.#p = options.keyPrefix;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#maxWaitMs = options.maxWaitMs ?? 60_000;
  }

  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const key = `${this.#p}commit:${id}`;
    const token = randomBytes(12).toString('hex');
    await this.#acquire(key, token);
    const renew = setInterval(() => {
      this.#redis.eval(RENEW, 1, key, token, this.#leaseMs).catch(() => undefined);
    }, Math.max(Math.floor(this.#leaseMs / 3), 1));
    let reachable = true;
    try {
      return await fn();
    } catch (error) {
      reachable = !isStoreUnavailable(error);
      throw error;
    } finally {
      clearInterval(renew);
      await this.#release(key, token, reachable);
    }
  }

  /**
   * Releases the lease; if Redis cannot be reached (down, restarting), keeps trying in the
   * background until it can or the lease has run out by itself. A lease that outlived a Redis
   * restart (append-only file) would otherwise hold the upload up for a whole lease, although no
   * commit runs under it any more.
   */
  async #release(key: string, token: string, reachable: boolean): Promise<void> {
    const until = Date.now() + this.#leaseMs;
    // Connected: the lease is gone before the commit answers. Not connected, or Redis just failed
    // the commit (down, or hanging with the connection open): the commit answers now, without
    // waiting for the reconnects or the command timeout a first attempt would wait for.
    if (reachable && this.#redis.status === 'ready' && (await this.#tryRelease(key, token))) return;
    void (async () => {
      while (Date.now() < until && this.#redis.status !== 'end') {
        // Each attempt waits for the connection's reconnects before failing: this loop is paced by them.
        if (await this.#tryRelease(key, token)) return;
        await sleepUnref(RELEASE_RETRY_PAUSE_MS);
      }
    })();
  }

  async #tryRelease(key: string, token: string): Promise<boolean> {
    try {
      await this.#redis.eval(RELEASE, 1, key, token);
      return true;
    } catch {
      return false;
    }
  }

  async #acquire(key: string, token: string): Promise<void> {
    const deadline = Date.now() + this.#maxWaitMs;
    for (let pause = POLL_FIRST_MS; ; pause = Math.min(pause * 2, POLL_MAX_MS)) {
      let taken: string | null;
      try {
        taken = await this.#redis.set(key, token, 'PX', this.#leaseMs, 'NX');
      } catch (error) {
        // Unanswered is not undone: a Redis that hung may still run the SET when it resumes, and
        // that lease, which nobody holds, would hold the upload up for a whole lease.
        await this.#release(key, token, false);
        throw unavailable(error);
      }
      if (taken === 'OK') return;
      if (Date.now() + pause > deadline) throw new FramewireError('LEASE_CONFLICT', 'another server node is committing this upload; retry');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** A pause that does not keep the process alive (a background release must not hold up its exit). */
function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}

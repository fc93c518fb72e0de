/**
 * The one way framewire opens a Redis connection (issue 19): ioredis, reconnecting with backoff
 * (50 ms doubling to 2 s) for as long as the owner lives, and a command that waits for at most two
 * reconnects (and, if the owner asks, at most `commandTimeoutMs`) before it fails. Failures reach
 * callers through their commands; the `error` event has a listener so that ioredis never throws it.
 */

import { Redis } from 'ioredis';

const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2000;

export interface OpenRedisOptions {
  readonly connectionName?: string;
  /**
   * A command not answered within this long fails (ioredis' commandTimeout, counted from when it is
   * issued, queued or sent): a Redis that is stopped or cut off while the connection stays open
   * would otherwise leave it waiting for ever. Default: no limit.
   */
  readonly commandTimeoutMs?: number;
}

export function openRedis(url: string, options: OpenRedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    ...(options.commandTimeoutMs === undefined ? {} : { commandTimeout: options.commandTimeoutMs }),
    retryStrategy: (attempt) => Math.min(RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 10), RECONNECT_MAX_MS),
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
  });
  redis.on('error', () => undefined);
  return redis;
}

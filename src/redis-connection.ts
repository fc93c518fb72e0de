/**
 * The one way framewire opens a Redis connection (issue 19): ioredis, reconnecting with backoff
 * (50 ms doubling to 2 s) for as long as the owner lives, and a command that waits for at most two
 * reconnects before it fails. Failures reach callers through their commands; the `error` event has
 * a listener so that ioredis never throws it.
 */

import { Redis } from 'ioredis';

const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2000;

export function openRedis(url: string, options: { readonly connectionName?: string } = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 2,
    retryStrategy: (attempt) => Math.min(RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 10), RECONNECT_MAX_MS),
    ...(options.connectionName === undefined ? {} : { connectionName: options.connectionName }),
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * A real redis-server (Debian's package, installed by .ci/run) for the tests of the Redis stores:
 * each one on a free loopback port with a temporary directory, stopped by its pid
 * (src/cli/redis-server.ts). Without the binary the Redis tests skip, saying so loudly; that is
 * the only reason they skip.
 */

import { afterAll, beforeAll } from 'vitest';
import { findRedisServer, RedisServer } from '../../src/cli/redis-server.ts';

export { RedisServer, type RedisServerOptions } from '../../src/cli/redis-server.ts';

export const redisServerBinary = findRedisServer();

if (redisServerBinary === undefined) {
  const line = '!'.repeat(100);
  process.stderr.write(`${line}\n!! redis-server is not installed: the Redis store tests are SKIPPED. Install it: apt-get install -y redis-server\n${line}\n`);
}

let shared: Promise<RedisServer> | undefined;

/** One redis-server for the whole test file (each store uses keys of its own); stopped by stopSharedRedis. */
export function sharedRedis(): Promise<RedisServer> {
  shared ??= RedisServer.start();
  return shared;
}

export async function stopSharedRedis(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s !== undefined) await (await s).destroy();
}

/**
 * A redis-server of the enclosing describe block's own: started before its tests, destroyed after
 * them (and after the block's own afterAll hooks). Its url and port are read inside a test or hook.
 */
export function redisForSuite(): { readonly url: string; readonly port: number } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await server?.destroy();
    server = undefined;
  });
  const running = (): RedisServer => {
    if (server === undefined) throw new Error('the suite\'s redis-server is not running: read it inside a test or hook');
    return server;
  };
  return {
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
  };
}

/**
 * The scripts of the shared replay log run in the order they were called on a connection (spec
 * §12.13: appends, trims and the end of one log are pipelined, and each checks that it follows the
 * one before). A script Redis does not know (a fresh Redis, or one restarted) must not let a later
 * call overtake an earlier one: the first call of the bench on a fresh Redis failed the log ("an
 * earlier append failed") when an append sent while an earlier one was re-sent after NOSCRIPT ran
 * first.
 *
 * Cost: one redis-server, well under a second.
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LuaScript } from '../../src/events/redis-log-scripts.ts';
import { openRedis } from '../../src/redis-connection.ts';
import { RedisServer, redisServerBinary } from './server.ts';

describe.skipIf(redisServerBinary === undefined)('events: the log scripts run in call order', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = openRedis(server.url);
    await redis.ping(); // connected: commands go out as they are made, not from the offline queue
  }, 30_000);
  afterAll(async () => {
    redis.disconnect();
    await server.destroy();
  });

  it('a call made while an earlier call of the same script is being sent again does not overtake a call made before it', async () => {
    const key = `order:${randomBytes(4).toString('hex')}`;
    // A body Redis has never seen: every server starts without it.
    const script = new LuaScript(`-- ${key}\nredis.call('RPUSH', KEYS[1], ARGV[1])\nreturn 1`);
    const sent: string[] = [];
    let third: Promise<unknown> | undefined;
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<typeof send>) => {
      const marker = String(args[0].args[args[0].args.length - 1]);
      const again = sent.includes(marker);
      sent.push(marker);
      const r = send(...args);
      // The moment a call goes out a second time, a new call is made.
      if (again && third === undefined) third = script.run(redis, [key], ['c']);
      return r;
    });
    try {
      await Promise.all([script.run(redis, [key], ['a']), script.run(redis, [key], ['b'])]);
      third ??= script.run(redis, [key], ['c']);
      await third;
    } finally {
      redis.sendCommand = send;
    }
    expect(await redis.lrange(key, 0, -1)).toEqual(['a', 'b', 'c']);
  });
});

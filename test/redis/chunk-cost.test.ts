/**
 * A chunk write costs Redis the same whether it is an upload's first chunk or its two-thousandth
 * (issue 19; UploadMetaStore.getChunk): the state machine reads the record and that one chunk's
 * entry, never the whole chunk hash, so an upload of n chunks moves O(n) bytes through Redis, not
 * O(n²). Measured as the bytes Redis sends its clients (INFO stats total_net_output_bytes) over the
 * first and the last WINDOW chunks of one upload, on a redis-server of this file's own: bytes, not
 * time, so a loaded machine cannot move the result.
 * Cost: one redis-server and 2,000 chunks of 64 bytes without fsync: about 3 s.
 */

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisUploadStore } from '../../src/upload/index.ts';
import { removeTempDirs, sha256Hex, tempDir } from '../upload/helpers.ts';
import { RedisServer, redisServerBinary } from './server.ts';

const CHUNKS = 2000;
const CHUNK_SIZE = 64;
const WINDOW = 200;

async function* once(b: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield b;
}

describe.skipIf(redisServerBinary === undefined)('Redis bytes per chunk write', () => {
  let redis: RedisServer;
  let probe: Redis;
  beforeAll(async () => {
    redis = await RedisServer.start();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    probe.disconnect();
    await redis.destroy();
    await removeTempDirs();
  });

  /** Bytes Redis has sent to all its clients so far (each probe adds the same INFO reply). */
  const sentBytes = async (): Promise<number> => {
    const match = /^total_net_output_bytes:(\d+)/m.exec(await probe.info('stats'));
    if (match?.[1] === undefined) throw new Error('INFO stats has no total_net_output_bytes');
    return Number(match[1]);
  };

  it(`the last ${WINDOW} of ${CHUNKS} chunks cost Redis no more bytes than the first ${WINDOW}`, async () => {
    const store = new RedisUploadStore({ redis: redis.url, dataDir: await tempDir('fw-chunk-cost-'), durable: false });
    try {
      await store.ready;
      const { info } = await store.create('alice', { size: CHUNKS * CHUNK_SIZE, chunkSize: CHUNK_SIZE });
      const write = async (from: number, to: number): Promise<number> => {
        const before = await sentBytes();
        for (let i = from; i < to; i++) {
          const data = Buffer.alloc(CHUNK_SIZE, i % 251);
          const r = await store.writeChunk(info.id, { index: i, offset: i * CHUNK_SIZE, length: CHUNK_SIZE, sha256: sha256Hex(data), token: 1 }, once(data));
          expect(r.duplicate).toBe(false);
        }
        return (await sentBytes()) - before;
      };
      const first = await write(0, WINDOW);
      await write(WINDOW, CHUNKS - WINDOW);
      const last = await write(CHUNKS - WINDOW, CHUNKS);
      // With the whole set read per chunk, the last window would cost about CHUNKS / WINDOW times
      // the first (every chunk entry is some 80 bytes on the wire); a flat cost differs only by the
      // digits of the larger indexes.
      expect(last / first).toBeLessThan(1.1);
      expect((await store.get(info.id))?.stored.size).toBe(CHUNKS);
    } finally {
      await store.close();
    }
  });
});

/**
 * A chunk costs Redis the same whether it is an upload's first or its two-thousandth (issue 19):
 * neither the service's authorisation (UploadStore.summary) nor the state machine's check
 * (UploadMetaStore.getChunk) reads the whole chunk hash any more, so an upload of n chunks moves
 * O(n) bytes through Redis, not O(n²). Measured through the protocol (a server with the Redis
 * store on loopback, chunks sent one after another) as the bytes Redis sends its clients (INFO
 * stats total_net_output_bytes) over the first and the last WINDOW chunks of one upload, on a
 * redis-server of this file's own: bytes, not time, so a loaded machine cannot move the result.
 * A resume (status with acquire) reads the chunk set once, as a plain status does: it is
 * authorised on the record alone, and only the acquire reads the chunks it answers with.
 * Abort decides on the record alone too: aborting that upload costs Redis no more bytes than
 * aborting an upload of one chunk.
 * Cost: one redis-server and 2,000 chunks of 64 bytes without fsync: about 5 s.
 */

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpload, getUploadStatus, putChunk, RedisUploadStore } from '../../src/upload/index.ts';
import { Harness, removeTempDirs, sha256Hex, tempDir, uploadServer } from '../upload/helpers.ts';
import { RedisServer, redisServerBinary } from './server.ts';

const CHUNKS = 2000;
const CHUNK_SIZE = 64;
const WINDOW = 200;

const h = new Harness();

describe.skipIf(redisServerBinary === undefined)('Redis bytes per chunk write', () => {
  let redis: RedisServer;
  let probe: Redis;
  beforeAll(async () => {
    redis = await RedisServer.start();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    probe.disconnect();
    await h.cleanup();
    await redis.destroy();
    await removeTempDirs();
  });

  /** Bytes Redis has sent to all its clients so far (each probe adds the same INFO reply). */
  const sentBytes = async (): Promise<number> => {
    const match = /^total_net_output_bytes:(\d+)/m.exec(await probe.info('stats'));
    if (match?.[1] === undefined) throw new Error('INFO stats has no total_net_output_bytes');
    return Number(match[1]);
  };

  it(`through the protocol, the last ${WINDOW} of ${CHUNKS} chunks cost Redis no more bytes than the first ${WINDOW}`, async () => {
    const store = new RedisUploadStore({ redis: redis.url, dataDir: await tempDir('fw-chunk-cost-'), durable: false });
    try {
      const { port } = await uploadServer(h, { store });
      const conn = await h.client({ port });
      const up = await createUpload(conn, { size: CHUNKS * CHUNK_SIZE, chunkSize: CHUNK_SIZE });
      const send = async (from: number, to: number): Promise<number> => {
        const before = await sentBytes();
        for (let i = from; i < to; i++) {
          const data = Buffer.alloc(CHUNK_SIZE, i % 251);
          const ack = await putChunk(conn, up.uploadId, { index: i, offset: i * CHUNK_SIZE, length: CHUNK_SIZE, sha256: sha256Hex(data), token: 1 }, data);
          expect(ack.duplicate).toBe(false);
        }
        return (await sentBytes()) - before;
      };
      const first = await send(0, WINDOW);
      await send(WINDOW, CHUNKS - WINDOW);
      const last = await send(CHUNKS - WINDOW, CHUNKS);
      // With the whole set read per chunk, the last window would cost about CHUNKS / WINDOW times
      // the first (every chunk entry is some 80 bytes on the wire); a flat cost differs only by the
      // digits of the larger indexes.
      expect(last / first).toBeLessThan(1.1);
      expect((await store.get(up.uploadId))?.stored.size).toBe(CHUNKS);

      // Status reads the chunk set once, and so does a status with acquire (not a second time to authorise it).
      const before = await sentBytes();
      expect((await getUploadStatus(conn, up.uploadId)).token).toBeUndefined();
      const statusCost = (await sentBytes()) - before;
      const beforeAcquire = await sentBytes();
      expect((await getUploadStatus(conn, up.uploadId, { acquire: true })).token).toBe(2);
      const acquireCost = (await sentBytes()) - beforeAcquire;
      expect(statusCost).toBeGreaterThan(CHUNKS * 10);
      expect(acquireCost / statusCost).toBeLessThan(1.2);

      // Abort reads the record, not the chunk set (with the whole set read, some 80 bytes per chunk).
      const small = await createUpload(conn, { size: CHUNK_SIZE, chunkSize: CHUNK_SIZE });
      const one = Buffer.alloc(CHUNK_SIZE, 1);
      await putChunk(conn, small.uploadId, { index: 0, offset: 0, length: CHUNK_SIZE, sha256: sha256Hex(one), token: 1 }, one);
      const abortCost = async (id: string): Promise<number> => {
        const before = await sentBytes();
        expect(await store.abort(id)).toBe('aborted');
        return (await sentBytes()) - before;
      };
      const abortOne = await abortCost(small.uploadId);
      const abortMany = await abortCost(up.uploadId);
      expect(abortMany - abortOne).toBeLessThan(100);
    } finally {
      await store.close();
    }
  });
});

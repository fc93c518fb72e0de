/**
 * Misuse of the API — an option, a limit or an argument it cannot work with — is a coded
 * INVALID_ARGUMENT (src/errors.ts `invalidArgument`, src/arguments.ts), never a bare RangeError,
 * TypeError or Error; a function that returns a Promise rejects with it and never throws.
 */

import { describe, expect, it } from 'vitest';
import { checkInteger, checkIntegers } from '../src/arguments.ts';
import { connect } from '../src/client.ts';
import { createServer } from '../src/server.ts';
import { Coalescer } from '../src/events/coalesce.ts';
import { resolveEventLimits } from '../src/events/limits.ts';
import { validateReplayLimits } from '../src/events/replay-log.ts';
import { EventService } from '../src/events/service.ts';
import { subscribeWith } from '../src/events/subscriber.ts';
import { ObjectService } from '../src/objects/service.ts';
import { downloadWith } from '../src/objects/downloader.ts';
import { MemoryUploadStore } from '../src/upload/memory-store.ts';
import { resolveUploadQuota } from '../src/upload/quota.ts';
import { UploadService } from '../src/upload/service.ts';
import { openSource } from '../src/upload/source.ts';
import { resolveStoreOptions } from '../src/upload/store.ts';
import { UploadSweeper } from '../src/upload/sweeper.ts';
import { uploadWith } from '../src/upload/uploader.ts';
import { FrameDecoder, parseFrame } from '../src/wire/index.ts';
import { invalidArgument } from './session/helpers.ts';

const never = (): Promise<never> => Promise.reject(new Error('the connector must not be called'));

describe('misuse of the API is a coded INVALID_ARGUMENT', () => {
  it('checkInteger and checkIntegers: the range is inclusive, anything else names the value', () => {
    expect(checkInteger('n', 0)).toBe(0);
    expect(checkInteger('n', 5, 1, 5)).toBe(5);
    for (const bad of [-1, 1.5, Number.NaN, Infinity, '3', undefined]) expect(() => checkInteger('n', bad), String(bad)).toThrow(invalidArgument);
    expect(() => checkInteger('n', 6, 1, 5)).toThrow(/n must be an integer in 1\.\.5, got 6/);
    expect(() => checkIntegers('limit', { a: 1, b: 0 }, (key) => (key === 'b' ? 1 : 0))).toThrow(/limit b must be an integer >= 1, got 0/);
  });

  it('synchronous option checks throw it', () => {
    const store = new MemoryUploadStore();
    const cases: [string, () => unknown][] = [
      ['object limits', () => new ObjectService({ objects: store.objects, limits: { readBatchMessages: -1 } })],
      ['object read message size', () => new ObjectService({ objects: store.objects, limits: { maxReadMessageBytes: 8 } })],
      ['upload limits', () => new UploadService({ store, limits: { maxChunksInFlightPerUpload: 1.5 }, sweepIntervalMs: 0 })],
      ['upload quota', () => resolveUploadQuota({ maxUploads: -1 })],
      ['upload store options', () => resolveStoreOptions({ ttlMs: 0 })],
      ['sweep interval', () => new UploadSweeper(store, 0)],
      ['event limits', () => resolveEventLimits({ maxInstances: -1 })],
      ['replay limits', () => validateReplayLimits({ maxEvents: 0, maxBytes: 1024, maxAgeMs: 0 })],
      ['replay max age', () => validateReplayLimits({ maxEvents: 1, maxBytes: 1024, maxAgeMs: -1 })],
      ['coalescing interval', () => new Coalescer({ minIntervalMs: -1 })],
      ['event timers', () => new EventService().handle('n', async function* () {}, { graceMs: -1 })],
      ['a second producer for a name', () => new EventService().handle('n', async function* () {}).handle('n', async function* () {})],
      ['resume point', () => subscribeWith(never, 'n', { from: { key: 'k', after: -1 } })],
      ['decoder maxPayload', () => new FrameDecoder({ maxPayload: -1 }, () => undefined)],
      ['server QUIC option', () => createServer({ quic: { goawayCloseWaitMs: -1 } })],
      ['parseFrame of an unknown type', () => parseFrame({ type: 0x7f, flags: 0, stream: 0, seq: 0, payload: new Uint8Array(0) })],
    ];
    for (const [name, misuse] of cases) expect(misuse, name).toThrow(invalidArgument);
    void store.close();
  });

  it('a subscription iterated twice throws it', () => {
    const sub = subscribeWith(never, 'n');
    sub[Symbol.asyncIterator]();
    expect(() => sub[Symbol.asyncIterator]()).toThrow(invalidArgument);
    sub.cancel('done');
  });

  it('Promise-returning calls reject with it and never throw', async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ['upload chunkSize', () => uploadWith(never, new Uint8Array(1), { chunkSize: 0 })],
      ['upload inflight', () => uploadWith(never, new Uint8Array(1), { inflight: 1.5 })],
      ['upload sha256', () => uploadWith(never, new Uint8Array(1), { sha256: 'xyz' })],
      ['upload uploadId', () => uploadWith(never, new Uint8Array(1), { uploadId: '../etc' })],
      ['upload stallTimeoutMs', () => uploadWith(never, new Uint8Array(1), { stallTimeoutMs: -1 })],
      ['upload retry policy', () => uploadWith(never, new Uint8Array(1), { retry: { maxAttempts: -1 } })],
      ['download stallTimeoutMs', () => downloadWith(never, 'a'.repeat(32), '/nonexistent/x', { stallTimeoutMs: Number.NaN })],
      ['source size of bytes', () => openSource(new Uint8Array(3), 4)],
      ['source size of a stream', () => openSource((async function* () {})(), undefined)],
      ['connect url', () => connect({ url: 'http://localhost:1' })],
      ['connect port', () => connect({ port: 70_000 })],
      ['connect QUIC option', () => connect({ url: 'quic://127.0.0.1:9', quic: { maxQuicStreams: 0 } })],
    ];
    for (const [name, call] of cases) {
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = call()), name).not.toThrow();
      await expect(promise, name).rejects.toThrow(invalidArgument);
    }
  });
});

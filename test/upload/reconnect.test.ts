/**
 * The uploader's resume logic on a manual clock (spec/UPLOAD.md FW-UP-33, FW-UP-35, PROTOCOL.md
 * FW-ERR-4): client and server joined in memory, one clock for the sessions and the uploader, so
 * each backoff and retry_after_ms wait is checked to the millisecond, with no sleep.
 */

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadKind } from '../../src/api/protocol.ts';
import { MemoryUploadStore, UploadService, uploadWith, type UploadOptions, type UploadResult } from '../../src/api/upload.ts';
import { FramewireError, type StreamService } from '../../src/index.ts';
import { getUploadStatus } from '../../src/upload/index.ts';
import { ManualClock } from '../../src/session/index.ts';
import { advance, MemoryNetwork, until } from '../integration/memory-network.ts';
import { expectAbortError, expectFwError, KiB, readAllBytes } from './helpers.ts';

const networks: MemoryNetwork[] = [];
afterEach(() => {
  for (const n of networks.splice(0)) n.close();
});

const CHUNK = 16 * KiB;
const bytes = randomBytes(8 * CHUNK);
const sha256 = createHash('sha256').update(bytes).digest('hex');

/** An upload service in memory; `refuse(kind)` says how often to refuse a stream of that kind with LIMIT_EXCEEDED first. */
function setup(refusals: Partial<Record<string, { times: number; retryAfterMs: number }>> = {}) {
  const clock = new ManualClock();
  const store = new MemoryUploadStore();
  const service = new UploadService({ store, sweepIntervalMs: 0 });
  const opened: Record<string, number[]> = {};
  const front: StreamService = {
    kinds: service.kinds,
    handle: (stream, session) => {
      (opened[stream.kind] ??= []).push(clock.now());
      const r = refusals[stream.kind];
      if (r !== undefined && r.times > 0) {
        r.times--;
        stream.fail('LIMIT_EXCEEDED', 'busy', { retryAfterMs: r.retryAfterMs });
        return;
      }
      return service.handle(stream, session);
    },
  };
  const net = new MemoryNetwork({ clock, services: [front] });
  networks.push(net);
  return { clock, store, net, opened };
}

function start(net: MemoryNetwork, clock: ManualClock, options: Partial<UploadOptions> = {}) {
  const retries: { attempt: number; delayMs: number; code: string; at: number }[] = [];
  const running = uploadWith(net.connect, bytes, {
    chunkSize: CHUNK,
    inflight: 1,
    clock,
    onRetry: (r) => retries.push({ attempt: r.attempt, delayMs: r.delayMs, code: r.error.code, at: clock.now() }),
    ...options,
  });
  const settled = running.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let done = false;
  void settled.then(() => (done = true));
  /** The result, once the upload ended without the clock moving any further. */
  const result = async (label: string): Promise<UploadResult> => {
    await until(() => done, label);
    const r = await settled;
    if (!r.ok) throw r.error;
    return r.value;
  };
  return { retries, settled, done: () => done, result };
}

describe('uploader: resume on a manual clock', () => {
  it('FW-UP-33 FW-UP-34: a round cut after progress is a failed attempt: the retry waits 50–100 ms on the clock, then only the missing chunks go', async () => {
    const { clock, net, store } = setup();
    const up = start(net, clock, {
      onProgress: (p) => {
        if (p.chunksConfirmed === 3 && net.attempts === 1) net.cut();
      },
    });
    await until(() => up.retries.length === 1, 'the retry after the cut');
    const [retry] = up.retries as [{ attempt: number; delayMs: number; code: string; at: number }];
    expect(retry).toMatchObject({ attempt: 1, code: 'CONNECTION_LOST' });
    expect(retry.delayMs).toBeGreaterThanOrEqual(50);
    expect(retry.delayMs).toBeLessThanOrEqual(100);
    await advance(clock, retry.delayMs - 1, 1);
    expect(net.attempts).toBe(1);
    clock.advance(1);
    const result = await up.result('the upload after the resume');
    expect(net.attemptsAt[1]).toBe(retry.at + retry.delayMs);
    expect(result.sha256).toBe(sha256);
    expect(result.stats).toMatchObject({ connections: 2, reconnects: 1 });
    // At most the chunk in flight at the cut is sent again.
    expect(result.stats.chunksSent - 8).toBe(result.stats.chunksResent);
    expect(result.stats.chunksResent).toBeLessThanOrEqual(1);
    expect(createHash('sha256').update(await readAllBytes((await store.openObject(result.objectId))!)).digest('hex')).toBe(sha256);
  });

  it('FW-UP-33: it gives up after maxAttempts failed attempts in a row, with the last failure\'s code and the count', async () => {
    const { clock, net } = setup();
    net.refuse(...Array.from({ length: 5 }, (_, i) => new FramewireError('CONNECTION_LOST', `unreachable ${i + 1}`)));
    const up = start(net, clock, { retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 1000 } });
    for (let i = 0; i < 100 && !up.done(); i++) await advance(clock, 50);
    const r = await up.settled;
    const error = expectFwError(r.ok ? undefined : r.error, 'CONNECTION_LOST');
    expect(error.message).toBe('upload gave up after 3 attempts without progress: unreachable 3');
    expect(error.details).toEqual({ attempts: 3 });
    expect(up.retries.map((x) => x.attempt)).toEqual([1, 2]);
    expect(net.attempts).toBe(3);
  });

  it('FW-UP-27 FW-UP-34: an abort during the backoff rejects at once with an AbortError (cause: the reason, code CANCELLED) and deletes the upload', async () => {
    const { clock, net } = setup();
    const controller = new AbortController();
    let uploadId: string | undefined;
    const up = start(net, clock, {
      signal: controller.signal,
      retry: { initialDelayMs: 10_000, maxDelayMs: 10_000, maxAttempts: 10 },
      onProgress: (p) => {
        uploadId = p.uploadId;
        if (p.chunksConfirmed === 2 && net.attempts === 1) net.cut();
      },
    });
    await until(() => up.retries.length === 1, 'the backoff');
    const reason = new Error('the user pressed Ctrl-C');
    controller.abort(reason);
    await until(up.done, 'the end of the upload, on the same clock time');
    const r = await up.settled;
    expectAbortError(r.ok ? undefined : r.error, reason);
    // Deleted over a fresh connection; the clock never moved.
    expect(clock.now()).toBe(0);
    expect((await getUploadStatus(await net.connect(), uploadId!)).state).toBe('aborted');
  });

  it('FW-UP-35 FW-ERR-4: LIMIT_EXCEEDED at create is waited out for its retry_after_ms, beyond the backoff cap', async () => {
    const { clock, net, opened } = setup({ [UploadKind.create]: { times: 1, retryAfterMs: 30_000 } });
    const up = start(net, clock);
    await until(() => up.retries.length === 1, 'the refused create');
    expect(up.retries[0]).toMatchObject({ attempt: 1, code: 'LIMIT_EXCEEDED', delayMs: 30_000 });
    await advance(clock, 29_999, 1000);
    expect(opened[UploadKind.create]).toHaveLength(1);
    clock.advance(1);
    await up.result('the upload after the wait');
    expect(opened[UploadKind.create]).toEqual([0, 30_000]);
  });

  it('FW-UP-35: a chunk refused with LIMIT_EXCEEDED is sent again after retry_after_ms on the same connection, and is no re-send', async () => {
    const { clock, net, opened } = setup({ [UploadKind.chunk]: { times: 1, retryAfterMs: 200 } });
    const up = start(net, clock);
    // The refusal reached the uploader: its stream is gone from the client's session.
    await until(() => opened[UploadKind.chunk]?.length === 1 && net.clients[0]?.session.activeStreams === 0, 'the refused chunk');
    await advance(clock, 199, 1);
    expect(opened[UploadKind.chunk]).toHaveLength(1);
    clock.advance(1);
    const result = await up.result('the upload');
    expect(opened[UploadKind.chunk]?.[1]).toBe(200);
    expect(result.stats).toMatchObject({ connections: 1, reconnects: 0, chunksSent: 8, chunksResent: 0 });
    expect(up.retries).toEqual([]);
  });
});

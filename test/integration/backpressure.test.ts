/**
 * Bounded memory under a stalled reader (FW-FLOW-1, FW-FLOW-4, FW-FLOW-5, FW-LIMIT-5): the receiver
 * holds at most what it granted, the sender's write() waits instead of queueing without bound, and
 * once the reader drains everything completes intact.
 */

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session, Stream } from '../../src/index.ts';
import { Harness, KiB, MiB, sleep, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const STREAM_CREDIT = 256 * KiB;
const CONNECTION_CREDIT = 1 * MiB;
const STREAM_CEILING = 512 * KiB;
const CONNECTION_CEILING = 1 * MiB;
const WRITE_BUFFER = 512 * KiB;
const MESSAGE = 64 * KiB;
const STALL_MS = 1000;

interface Peak {
  stream: number;
  session: number;
  /** Largest (limit - consumed) we ever advertised on the stream: the credit actually granted. */
  streamGranted: number;
}

/** A server whose handler sleeps before reading, sampling what it buffers the whole time. */
async function stalledServer(peaks: Peak[], during: Peak[], stallMs = STALL_MS): Promise<number> {
  const { port } = await h.server({
    settings: { initialStreamCredit: STREAM_CREDIT, initialConnectionCredit: CONNECTION_CREDIT },
    limits: { maxStreamWindow: STREAM_CEILING, maxConnectionWindow: CONNECTION_CEILING },
    onStream: async (stream: Stream, session: Session) => {
      const peak: Peak = { stream: 0, session: 0, streamGranted: 0 };
      const stall: Peak = { stream: 0, session: 0, streamGranted: 0 };
      peaks.push(peak);
      during.push(stall);
      let stalled = true;
      const sample = (): void => {
        const w = stream.flow;
        for (const p of stalled ? [peak, stall] : [peak]) {
          p.stream = Math.max(p.stream, stream.bufferedBytes);
          p.session = Math.max(p.session, session.bufferedBytes);
          p.streamGranted = Math.max(p.streamGranted, w.receiveLimit - w.consumed);
        }
      };
      const sampler = setInterval(sample, 2);
      try {
        await sleep(stallMs);
        sample();
        stalled = false;
        const hash = createHash('sha256');
        let bytes = 0;
        let messages = 0;
        for await (const m of stream) {
          sample();
          hash.update(m);
          bytes += m.length;
          messages++;
        }
        await stream.end({ bytes, messages, sha256: hash.digest('hex') });
      } finally {
        clearInterval(sampler);
      }
    },
  });
  return port;
}

function message(pool: Buffer, i: number): Buffer {
  const m = Buffer.allocUnsafe(MESSAGE);
  pool.copy(m, 0, (i * 7919) % (pool.length - MESSAGE), ((i * 7919) % (pool.length - MESSAGE)) + MESSAGE);
  m.writeUInt32BE(i, 0);
  return m;
}

describe('bounded memory under a stalled reader', () => {
  it('FW-FLOW-1 FW-FLOW-4 FW-LIMIT-5: 64 MiB to a reader that stalls ~1 s: receiver buffers <= granted credit, writer waits with a bounded queue, then all completes', async () => {
    const peaks: Peak[] = [];
    const during: Peak[] = [];
    const port = await stalledServer(peaks, during);
    const client = await h.client({ port, limits: { streamWriteBuffer: WRITE_BUFFER } });
    const stream = client.open({ kind: 'upload' });
    const pool = randomBytes(MiB);
    const total = 64 * MiB;
    const count = total / MESSAGE;
    const hash = createHash('sha256');
    let resolved = 0;
    let maxQueued = 0;
    let pendingWrite: Promise<void> | undefined;
    const started = performance.now();
    const writing = (async () => {
      for (let i = 0; i < count; i++) {
        const m = message(pool, i);
        hash.update(m);
        pendingWrite = stream.write(m);
        maxQueued = Math.max(maxQueued, stream.queuedBytes);
        await pendingWrite;
        resolved++;
      }
      await stream.end();
    })();

    // During the stall: the writer is parked on a pending write(), its queue bounded, nothing moves.
    await waitFor(() => stream.flow.sendLimit - stream.flow.sent === 0 && resolved > 0, 5000, 'sender used its initial credit');
    await sleep(200);
    const parkedAt = resolved;
    let settledDuringStall = false;
    void pendingWrite!.then(() => (settledDuringStall = true));
    await sleep(300);
    expect(resolved).toBe(parkedAt);
    expect(settledDuringStall).toBe(false);
    expect(stream.flow.sent).toBe(STREAM_CREDIT);
    expect(stream.queuedBytes).toBeLessThanOrEqual(WRITE_BUFFER + MESSAGE);
    // What the sender holds, end to end, while parked: queued + credit in flight.
    expect(parkedAt * MESSAGE).toBeLessThanOrEqual(STREAM_CREDIT + WRITE_BUFFER + MESSAGE);

    await within(writing, 25_000, 'writer finished');
    const outcome = await within(stream.outcome, 5000, 'outcome');
    const elapsed = performance.now() - started;
    expect(outcome.status).toBe('completed');
    expect(stream.trailer).toEqual({ bytes: total, messages: count, sha256: hash.digest('hex') });

    const [peak] = peaks;
    const [stall] = during;
    console.log(
      `[backpressure] stall: stream buffered max ${stall!.stream} B (credit ${STREAM_CREDIT}), session ${stall!.session} B; ` +
        `whole run: stream max ${peak!.stream} B (ceiling ${STREAM_CEILING}, max granted ${peak!.streamGranted}), session max ${peak!.session} B (ceiling ${CONNECTION_CEILING}); ` +
        `writer queued max ${maxQueued} B (buffer ${WRITE_BUFFER}); writes done while parked ${parkedAt}; 64 MiB in ${elapsed.toFixed(0)} ms`,
    );
    expect(stall!.stream).toBe(STREAM_CREDIT); // it filled the window, and not one byte more
    expect(stall!.session).toBeLessThanOrEqual(STREAM_CREDIT);
    expect(peak!.stream).toBeLessThanOrEqual(peak!.streamGranted);
    expect(peak!.streamGranted).toBeLessThanOrEqual(STREAM_CEILING);
    expect(peak!.session).toBeLessThanOrEqual(CONNECTION_CEILING);
    expect(maxQueued).toBeLessThanOrEqual(WRITE_BUFFER + MESSAGE);
  });

  it('FW-FLOW-1: six stalled streams are bounded by the connection window, not by six stream windows', async () => {
    const peaks: Peak[] = [];
    const during: Peak[] = [];
    const port = await stalledServer(peaks, during, 700);
    const client = await h.client({ port, limits: { streamWriteBuffer: WRITE_BUFFER } });
    const pool = randomBytes(MiB);
    const perStream = 2 * MiB;
    const runs = Array.from({ length: 6 }, async (_, s) => {
      const stream = client.open({ kind: 'upload' });
      const hash = createHash('sha256');
      for (let i = 0; i < perStream / MESSAGE; i++) {
        const m = message(pool, i + s * 1000);
        hash.update(m);
        await stream.write(m);
      }
      await stream.end();
      const outcome = await stream.outcome;
      return { outcome, trailer: stream.trailer, sha: hash.digest('hex') };
    });
    // 6 x 256 KiB of stream credit, but only 1 MiB of connection credit.
    await waitFor(() => during.length === 6, 5000, 'six streams opened');
    await sleep(400);
    const stalledTotal = during.reduce((n, p) => n + p.stream, 0);
    const stalledSession = Math.max(...during.map((p) => p.session));
    for (const r of await within(Promise.all(runs), 20_000, 'six uploads')) {
      expect(r.outcome.status).toBe('completed');
      expect(r.trailer).toMatchObject({ bytes: perStream, sha256: r.sha });
    }
    console.log(`[backpressure] six stalled streams: session buffered max ${stalledSession} B, sum of stream peaks ${stalledTotal} B (connection credit ${CONNECTION_CREDIT})`);
    expect(stalledSession).toBeLessThanOrEqual(CONNECTION_CREDIT);
    expect(stalledTotal).toBeLessThanOrEqual(CONNECTION_CREDIT);
    expect(Math.max(...peaks.map((p) => p.session))).toBeLessThanOrEqual(CONNECTION_CEILING);
  });
});

/**
 * Bounded memory under a stalled reader (FW-FLOW-1, FW-FLOW-4, FW-FLOW-5, FW-LIMIT-5): the receiver
 * holds at most what it granted, the sender's write() waits instead of queueing without bound, and
 * once the reader drains everything completes intact.
 *
 * The reader stalls until the test releases it, once what it observes has happened (the window
 * full, the writer parked), not for a fixed time: on a loaded machine a fixed stall could end
 * before the test had looked.
 */

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Session, Stream } from '../../src/index.ts';
import { Harness, KiB, MiB, sleep, waitFor, within } from './helpers.ts';

const h = new Harness();
/** Releases every reader still stalled, so that a failed test leaves no handler waiting. */
const releases: (() => void)[] = [];
afterEach(async () => {
  for (const release of releases.splice(0)) release();
  await h.cleanup();
});

/** A stall the test ends: `ended` settles when `release()` is called. */
function stalledReader(): { ended: Promise<void>; release: () => void } {
  let release!: () => void;
  const ended = new Promise<void>((resolve) => {
    release = resolve;
  });
  releases.push(release);
  return { ended, release };
}

/** Hang backstops of the waits below: each waits for a condition, not for a time. */
const WAIT_MS = 20_000;

const STREAM_CREDIT = 256 * KiB;
const CONNECTION_CREDIT = 1 * MiB;
const STREAM_CEILING = 512 * KiB;
const CONNECTION_CEILING = 1 * MiB;
const WRITE_BUFFER = 512 * KiB;
const MESSAGE = 64 * KiB;

interface Peak {
  stream: number;
  session: number;
  /** Largest (limit - consumed) we ever advertised on the stream: the credit actually granted. */
  streamGranted: number;
}

/** A server whose handler waits for `stallEnded` before reading, sampling what it buffers the whole time. */
async function stalledServer(peaks: Peak[], during: Peak[], stallEnded: Promise<void>): Promise<number> {
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
        await stallEnded;
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
  it('FW-FLOW-1 FW-FLOW-4 FW-LIMIT-5: 64 MiB to a reader that stalls: receiver buffers <= granted credit, writer waits with a bounded queue, then all completes', { timeout: 60_000 }, async () => {
    const peaks: Peak[] = [];
    const during: Peak[] = [];
    const reader = stalledReader();
    const port = await stalledServer(peaks, during, reader.ended);
    const client = await h.client({ port, limits: { streamWriteBuffer: WRITE_BUFFER } });
    const stream = client.open({ kind: 'upload' });
    const pool = randomBytes(MiB);
    const total = 64 * MiB;
    const count = total / MESSAGE;
    const hash = createHash('sha256');
    let resolved = 0;
    let maxQueued = 0;
    let pendingWrite: Promise<void> | undefined;
    let pendingSettled = false;
    const started = performance.now();
    const writing = (async () => {
      for (let i = 0; i < count; i++) {
        const m = message(pool, i);
        hash.update(m);
        const write = stream.write(m);
        pendingWrite = write;
        pendingSettled = false;
        void write.then(() => {
          if (pendingWrite === write) pendingSettled = true;
        });
        maxQueued = Math.max(maxQueued, stream.queuedBytes);
        await write;
        resolved++;
      }
      await stream.end();
    })();

    // During the stall: the writer is parked on a pending write(), its queue bounded, nothing moves.
    // Parked means: at a timer tick (after every microtask), the write it awaits is still pending; a
    // write that had room would have settled and the loop moved on to the next one. And the
    // receiver holds the whole credit it granted.
    await waitFor(() => stream.flow.sendLimit - stream.flow.sent === 0 && resolved > 0 && !pendingSettled, WAIT_MS, 'sender used its initial credit and parked');
    await waitFor(() => during[0] !== undefined && during[0].stream === STREAM_CREDIT, WAIT_MS, 'receiver holds the granted credit');
    const parkedAt = resolved;
    let settledDuringStall = false;
    void pendingWrite!.then(() => (settledDuringStall = true));
    // The reader is still stalled (the test releases it below), so nothing may move, however long
    // this takes on a loaded machine.
    await sleep(300);
    expect(resolved).toBe(parkedAt);
    expect(settledDuringStall).toBe(false);
    expect(stream.flow.sent).toBe(STREAM_CREDIT);
    expect(stream.queuedBytes).toBeLessThanOrEqual(WRITE_BUFFER + MESSAGE);
    // What the sender holds, end to end, while parked: queued + credit in flight.
    expect(parkedAt * MESSAGE).toBeLessThanOrEqual(STREAM_CREDIT + WRITE_BUFFER + MESSAGE);
    reader.release();

    await within(writing, 40_000, 'writer finished');
    const outcome = await within(stream.outcome, WAIT_MS, 'outcome');
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

  it('FW-FLOW-1: six stalled streams are bounded by the connection window, not by six stream windows', { timeout: 60_000 }, async () => {
    const peaks: Peak[] = [];
    const during: Peak[] = [];
    const readers = stalledReader();
    const port = await stalledServer(peaks, during, readers.ended);
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
    // The readers stay stalled until the connection's credit is all in the server's buffers (which
    // is what the bound is about), then a little longer, in which nothing more may arrive.
    await waitFor(() => during.length === 6, WAIT_MS, 'six streams opened');
    await waitFor(() => Math.max(...during.map((p) => p.session)) >= CONNECTION_CREDIT, WAIT_MS, 'the connection credit used up');
    await sleep(100);
    readers.release();
    const stalledTotal = during.reduce((n, p) => n + p.stream, 0);
    const stalledSession = Math.max(...during.map((p) => p.session));
    for (const r of await within(Promise.all(runs), 40_000, 'six uploads')) {
      expect(r.outcome.status).toBe('completed');
      expect(r.trailer).toMatchObject({ bytes: perStream, sha256: r.sha });
    }
    console.log(`[backpressure] six stalled streams: session buffered max ${stalledSession} B, sum of stream peaks ${stalledTotal} B (connection credit ${CONNECTION_CREDIT})`);
    expect(stalledSession).toBeLessThanOrEqual(CONNECTION_CREDIT);
    expect(stalledTotal).toBeLessThanOrEqual(CONNECTION_CREDIT);
    expect(Math.max(...peaks.map((p) => p.session))).toBeLessThanOrEqual(CONNECTION_CEILING);
  });
});

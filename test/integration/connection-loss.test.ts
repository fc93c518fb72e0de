/**
 * A closed socket is never success (FW-CONN-4, FW-CONN-5): cut connections mid-transfer on either
 * side, and the graceful alternative, GOAWAY, where in-flight streams finish and new ones are refused.
 */

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, Stream, StreamOutcome } from '../../src/index.ts';
import { echoHandler, expectFwError, Harness, KiB, readAll, settle, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

/** Writes `chunk` until the stream fails or `max` writes went out; returns how the writing ended. */
async function writeUntilFailure(stream: Stream, chunk: Uint8Array, max: number): Promise<unknown> {
  for (let i = 0; i < max; i++) {
    try {
      await stream.write(chunk);
    } catch (error) {
      return error;
    }
  }
  return undefined;
}

function failedWith(outcome: StreamOutcome, code: string): boolean {
  return outcome.status === 'failed' && outcome.error.code === code;
}

describe('connection loss over TCP', () => {
  it('FW-CONN-4 FW-CONN-5: the server destroys the socket mid-transfer: client streams fail with CONNECTION_LOST (retryable), iterators throw, writes reject', async () => {
    const serverOutcomes: Promise<StreamOutcome>[] = [];
    let serverBytes = 0;
    const { server, port } = await h.server({
      onStream: async (stream) => {
        serverOutcomes.push(stream.outcome);
        for await (const m of stream) {
          serverBytes += m.length;
          await stream.write(m);
        }
        await stream.end();
      },
    });
    const client = await h.client({ port });
    const chunk = randomBytes(32 * KiB);
    const streams = Array.from({ length: 4 }, () => client.open({ kind: 'echo' }));
    const reads = streams.map((s) => settle(readAll(s)));
    const writes = streams.map((s) => writeUntilFailure(s, chunk, 100_000));
    await waitFor(() => serverBytes > 2 * 1024 * KiB, 10_000, 'server received 2 MiB');
    const serverConnection = [...server.connections][0]!;
    serverConnection.destroy();

    for (const [i, s] of streams.entries()) {
      const outcome = await within(s.outcome, 5000, `client stream ${i} outcome`);
      expect(outcome.status).toBe('failed');
      const error = expectFwError(outcome.status === 'failed' ? outcome.error : undefined, 'CONNECTION_LOST');
      expect(error.retryable).toBe(true);
      expect(error.details).toMatchObject({ processed: 'unknown' });
      const read = await within(reads[i]!, 5000, `client read ${i}`);
      expect(read.ok).toBe(false);
      if (!read.ok) expectFwError(read.error, 'CONNECTION_LOST');
      expectFwError(await within(writes[i]!, 5000, `client write ${i}`), 'CONNECTION_LOST');
      expect(s.signal.aborted).toBe(true);
      // Writing to a failed stream rejects with the stream's error.
      await expect(s.write(chunk)).rejects.toThrow(/closed before the stream ended/);
    }
    for (const o of await within(Promise.all(serverOutcomes), 5000, 'server outcomes')) {
      expect(failedWith(o, 'CONNECTION_LOST')).toBe(true);
    }
    const end = await within(client.closed, 5000, 'client closed');
    expectFwError(end.error, 'CONNECTION_LOST');
    expect(client.session.stats.errors.get('CONNECTION_LOST')).toBe(1);
  });

  it('FW-CONN-4: the client side is destroyed mid-transfer: both sides fail with CONNECTION_LOST, nothing completes', async () => {
    const serverOutcomes: Promise<StreamOutcome>[] = [];
    const serverReads: Promise<{ ok: boolean; error?: unknown }>[] = [];
    let serverBytes = 0;
    const { port } = await h.server({
      onStream: (stream) => {
        serverOutcomes.push(stream.outcome);
        serverReads.push(
          settle(
            (async () => {
              for await (const m of stream) serverBytes += m.length;
            })(),
          ),
        );
      },
    });
    const client = await h.client({ port });
    const streams = [client.open({ kind: 'sink' }), client.open({ kind: 'sink' })];
    const writes = streams.map((s) => writeUntilFailure(s, randomBytes(64 * KiB), 100_000));
    await waitFor(() => serverBytes > 1024 * KiB, 10_000, 'server received 1 MiB');
    client.destroy();
    for (const s of streams) {
      const o = await within(s.outcome, 5000, 'client outcome');
      expect(failedWith(o, 'CONNECTION_LOST')).toBe(true);
    }
    for (const w of writes) expectFwError(await within(w, 5000, 'client write'), 'CONNECTION_LOST');
    const outcomes = await within(Promise.all(serverOutcomes), 5000, 'server outcomes');
    expect(outcomes).toHaveLength(2);
    for (const o of outcomes) {
      expect(o.status).toBe('failed');
      expect(failedWith(o, 'CONNECTION_LOST')).toBe(true);
      if (o.status === 'failed') expect(o.error.retryable).toBe(true);
    }
    for (const r of await within(Promise.all(serverReads), 5000, 'server reads')) {
      expect(r.ok).toBe(false);
      expectFwError(r.error, 'CONNECTION_LOST');
    }
  });

  it('FW-CONN-5: a stream that already sent DONE but had not received DONE fails, not completes, when the socket dies', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let serverGotDone = false;
    const { server, port } = await h.server({
      onStream: async (stream) => {
        await readAll(stream);
        serverGotDone = true;
        await gate; // never answers DONE before the cut
        await stream.end();
      },
    });
    const client = await h.client({ port });
    const s = client.open({ kind: 'x' });
    await s.write(Buffer.from('hello'));
    await s.end();
    // The client's DONE has arrived (not merely had 20 ms to): the stream is half-closed when cut.
    await waitFor(() => serverGotDone && server.connections.size === 1 && [...server.connections][0]!.session.activeStreams === 1, 5000, 'server saw the stream and its DONE');
    [...server.connections][0]!.destroy();
    release();
    const o = await within(s.outcome, 5000, 'outcome');
    expect(failedWith(o, 'CONNECTION_LOST')).toBe(true);
  });

  it('FW-GOAWAY-2 FW-GOAWAY-3 FW-GOAWAY-4: server.close() sends GOAWAY: in-flight streams finish, new opens are refused with REFUSED_STREAM, then the connection closes gracefully', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const { server, port } = await h.server({
      onStream: async (stream) => {
        handled++;
        await gate;
        await echoHandler()(stream);
      },
    });
    const client: Connection = await h.client({ port });
    const inflight = client.open({ kind: 'echo' });
    const payload = randomBytes(300 * KiB);
    const reading = readAll(inflight);
    await inflight.write(payload);
    await waitFor(() => handled === 1, 5000, 'server handles the in-flight stream');

    const closing = server.close({ deadlineMs: 10_000 });
    // Opened before the client saw the GOAWAY: refused by the server, or locally as above last_stream.
    const raced = client.open({ kind: 'echo' });
    await waitFor(() => !client.session.isOpen, 5000, 'client received GOAWAY');
    const racedOutcome = await within(raced.outcome, 5000, 'raced outcome');
    expect(failedWith(racedOutcome, 'REFUSED_STREAM')).toBe(true);
    if (racedOutcome.status === 'failed') {
      expect(racedOutcome.error.retryable).toBe(true);
    }
    // After the GOAWAY arrived, open() refuses at once.
    let refused: unknown;
    try {
      client.open({ kind: 'echo' });
    } catch (error) {
      refused = error;
    }
    expect(expectFwError(refused, 'REFUSED_STREAM').retryable).toBe(true);
    expect(handled).toBe(1);

    // The in-flight stream still runs to completion.
    release();
    await inflight.end();
    const echoed = await within(reading, 5000, 'in-flight echo');
    expect(Buffer.concat(echoed).equals(payload)).toBe(true);
    const o = await within(inflight.outcome, 5000, 'in-flight outcome');
    expect(o.status).toBe('completed');
    await within(closing, 5000, 'server.close()');
    const end = await within(client.closed, 5000, 'client closed');
    expect(end.error).toBeUndefined();
  });

  it('FW-GOAWAY-4: after GOAWAY, a transport close once every stream ended is a clean end, even with echoed data still unread', async () => {
    const { server, port } = await h.server({ onStream: echoHandler() });
    const client = await h.client({ port });
    const s = client.open({ kind: 'echo' });
    const payload = randomBytes(100 * KiB);
    await s.write(payload);
    await s.end();
    // Nothing read yet: the echo and the server's DONE sit unread in the client's stream.
    await waitFor(() => s.bufferedBytes === payload.length, 5000, 'echo arrived');
    await within(server.close({ deadlineMs: 5000 }), 5000, 'server.close()');
    const end = await within(client.closed, 5000, 'client closed');
    expect(end.error).toBeUndefined();
    const echoed = await within(readAll(s), 5000, 'late read');
    expect(Buffer.concat(echoed).equals(payload)).toBe(true);
    expect((await s.outcome).status).toBe('completed');
  });

  it('FW-GOAWAY-4: streams still open at the GOAWAY deadline fail with TIMEOUT', async () => {
    const { server, port } = await h.server({
      onStream: async (stream) => {
        await readAll(stream).catch(() => undefined);
      },
    });
    const client = await h.client({ port });
    const s = client.open({ kind: 'stuck' });
    await s.write(Buffer.from('x'));
    await waitFor(() => [...server.connections][0]?.session.activeStreams === 1, 5000, 'stream opened');
    await within(server.close({ deadlineMs: 200 }), 5000, 'server.close with deadline');
    const o = await within(s.outcome, 5000, 'outcome');
    expect(o.status).toBe('failed');
    if (o.status === 'failed') expect(o.error.code).toBe('TIMEOUT');
  });
});

/**
 * Echo and bulk over real TCP loopback: concurrent streams, random message sizes (empty ones and
 * ones spanning several frames), byte-identical and in order per stream, every outcome completed
 * with its trailer.
 */

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { echoHandler, Harness, KiB, MiB, randomMessages, readAll, sha256, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const MAX_FRAME = 16 * KiB;

describe('echo over TCP loopback', () => {
  it('FW-STREAM-13 FW-SCHED-4 FW-STREAM-6: 8 concurrent streams x 3 MiB of random-size messages echo byte-identical and in order, completed with trailers', async () => {
    const { port } = await h.server({ onStream: echoHandler(), settings: { maxFramePayload: MAX_FRAME } });
    const client = await h.client({ port, settings: { maxFramePayload: MAX_FRAME } });
    const seed = 0x5eed;
    const started = performance.now();
    const results = await within(
      Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const messages = randomMessages(seed + i, 3 * MiB, MAX_FRAME);
          const stream = client.open({ kind: 'echo', target: `bulk-${i}` });
          const reading = readAll(stream);
          for (const m of messages) await stream.write(m);
          await stream.end({ from: 'client', index: i });
          const echoed = await reading;
          const outcome = await stream.outcome;
          return { i, messages, echoed, outcome, trailer: stream.trailer };
        }),
      ),
      20_000,
      'bulk echo',
    );
    const elapsed = performance.now() - started;
    let total = 0;
    for (const { messages, echoed, outcome, trailer } of results) {
      const bytes = messages.reduce((n, m) => n + m.length, 0);
      total += bytes;
      expect(messages.some((m) => m.length === 0)).toBe(true);
      expect(messages.some((m) => m.length > MAX_FRAME)).toBe(true);
      // Boundaries: the same number of messages with the same sizes, in order.
      expect(echoed.map((m) => m.length)).toEqual(messages.map((m) => m.length));
      // Content and order.
      expect(sha256(echoed)).toBe(sha256(messages));
      expect(outcome.status).toBe('completed');
      // The server's trailer says what it received, independently of the echo path.
      expect(trailer).toEqual({ messages: messages.length, bytes, sha256: sha256(messages) });
      expect(outcome.status === 'completed' ? outcome.trailer : undefined).toEqual(trailer);
    }
    console.log(`[echo] 8 streams, ${(total / MiB).toFixed(1)} MiB each way in ${elapsed.toFixed(0)} ms (${((2 * total) / MiB / (elapsed / 1000)).toFixed(0)} MiB/s both directions)`);
    expect(client.session.activeStreams).toBe(0);
  });

  it('FW-LIMIT-1: 20 streams against max_concurrent_streams 3 wait for a slot instead of being refused, and all complete', async () => {
    let active = 0;
    let peak = 0;
    const { server, port } = await h.server({
      settings: { maxConcurrentStreams: 3 },
      onStream: async (stream) => {
        active++;
        peak = Math.max(peak, active);
        try {
          await echoHandler()(stream);
        } finally {
          active--;
        }
      },
    });
    const client = await h.client({ port });
    const runs = Array.from({ length: 20 }, async (_, i) => {
      const s = client.open({ kind: 'echo' });
      const reading = readAll(s);
      await s.write(Buffer.from(`message ${i}`));
      await s.end();
      const echoed = await reading;
      return { text: Buffer.from(echoed[0]!).toString(), outcome: await s.outcome };
    });
    const results = await within(Promise.all(runs), 10_000, '20 streams');
    expect(results.map((r) => r.text)).toEqual(Array.from({ length: 20 }, (_, i) => `message ${i}`));
    expect(results.every((r) => r.outcome.status === 'completed')).toBe(true);
    expect(peak).toBeLessThanOrEqual(3);
    expect([...server.connections][0]!.session.stats.streamsRefused).toBe(0);
  });

  it('FW-STREAM-13: the byte-stream view (chunks) carries the same bytes; a single message up to max_message_size arrives whole', async () => {
    const { port } = await h.server({ onStream: echoHandler(), settings: { maxFramePayload: MAX_FRAME, maxMessageSize: 4 * MiB } });
    const client = await h.client({ port, settings: { maxFramePayload: MAX_FRAME } });
    const stream = client.open({ kind: 'echo' });
    const whole = Buffer.concat([randomBytes(MAX_FRAME), Buffer.alloc(4 * MiB - MAX_FRAME, 0xab)]);
    const collecting = (async () => {
      const parts: Uint8Array[] = [];
      for await (const c of stream.chunks()) parts.push(c);
      return parts;
    })();
    await stream.write(whole);
    await stream.end();
    const parts = await within(collecting, 10_000, 'chunks');
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.length <= MAX_FRAME)).toBe(true);
    expect(sha256(parts)).toBe(sha256([whole]));
    expect((await stream.outcome).status).toBe('completed');
  });
});

/**
 * session.stats over real TCP: frame and byte counters match the traffic on both sides, and
 * connection-level errors are counted by code.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { FramewireError } from '../../src/index.ts';
import { echoHandler, Harness, KiB, randomMessages, readAll, waitFor, within } from './helpers.ts';

const h = new Harness();
afterEach(() => h.cleanup());

const MAX_FRAME = 8 * KiB;

describe('session.stats', () => {
  it('framesIn/Out and dataBytesIn/Out match the echoed traffic on both sides', async () => {
    const { server, port } = await h.server({ onStream: echoHandler(), settings: { maxFramePayload: MAX_FRAME } });
    const client = await h.client({ port, settings: { maxFramePayload: MAX_FRAME } });
    const serverSide = () => [...server.connections][0]!;
    const messages = randomMessages(9, 512 * KiB, MAX_FRAME);
    const bytes = messages.reduce((n, m) => n + m.length, 0);
    // At least one DATA frame per message, one per max_frame_payload slice.
    const minDataFrames = messages.reduce((n, m) => n + Math.max(1, Math.ceil(m.length / MAX_FRAME)), 0);
    const streams = 2;
    for (let i = 0; i < streams; i++) {
      const s = client.open({ kind: 'echo' });
      const reading = readAll(s);
      for (const m of messages) await s.write(m);
      await s.end();
      await within(reading, 10_000, 'echo');
      expect((await s.outcome).status).toBe('completed');
    }
    // Quiesce: a PING each way orders everything sent before it.
    await client.ping();
    await serverSide().ping();
    const c = client.session.stats;
    await waitFor(() => serverSide().session.stats.framesIn === c.framesOut && c.framesIn === serverSide().session.stats.framesOut, 2000, 'frame counters agree');
    const s = serverSide().session.stats;
    console.log('[stats] client', JSON.stringify(c), 'server', JSON.stringify(s));

    // dataBytes count DATA payloads as on the wire: each packed message adds its 4-byte length (spec §8.2.6).
    expect(c.dataBytesOut).toBe(streams * bytes + 4 * c.packedMessagesOut);
    expect(s.dataBytesIn).toBe(c.dataBytesOut);
    expect(s.dataBytesOut).toBe(streams * bytes + 4 * s.packedMessagesOut);
    expect(c.dataBytesIn).toBe(s.dataBytesOut);
    expect(s.packedFramesIn).toBe(c.packedFramesOut);
    expect(c.packedFramesIn).toBe(s.packedFramesOut);
    // A packed frame carries several messages in one frame.
    const packedSaving = (st: typeof c): number => st.packedMessagesOut - st.packedFramesOut;
    expect(c.framesOut).toBeGreaterThanOrEqual(streams * (minDataFrames + 2) - packedSaving(c)); // + OPEN + DONE
    expect(s.framesOut).toBeGreaterThanOrEqual(streams * (minDataFrames + 1) - packedSaving(s)); // + DONE
    expect(c.streamsOpened).toBe(streams);
    expect(s.streamsOpened).toBe(streams);
    expect(c.errors.size).toBe(0);
    expect(s.errors.size).toBe(0);
    expect(c.rttMs).toBeGreaterThan(0);
    expect(c.toJSON()).toMatchObject({ dataBytesOut: c.dataBytesOut, packedMessagesOut: c.packedMessagesOut, errors: {} });
  });

  it('connection errors are counted by code on both sides', async () => {
    const { server, port } = await h.server({ onStream: echoHandler() });
    const a = await h.client({ port });
    await waitFor(() => server.connections.size === 1, 2000, 'server connection a');
    const serverA = [...server.connections][0]!;
    a.close(new FramewireError('INTERNAL', 'client gave up'));
    await within(serverA.closed, 5000, 'server side of a closed');
    expect(Object.fromEntries(a.session.stats.errors)).toEqual({ INTERNAL: 1 });
    expect(Object.fromEntries(serverA.session.stats.errors)).toEqual({ INTERNAL: 1 });

    const b = await h.client({ port });
    await waitFor(() => server.connections.size === 1, 2000, 'server connection b');
    const serverB = [...server.connections][0]!;
    b.destroy();
    await within(serverB.closed, 5000, 'server side of b closed');
    expect(Object.fromEntries(serverB.session.stats.errors)).toEqual({ CONNECTION_LOST: 1 });
  });
});

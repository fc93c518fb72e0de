/**
 * Every numeric option of the QUIC transport is checked where it is given (spec §14.7): an integer
 * within its range, else INVALID_ARGUMENT naming the option — from createServer() at once, from
 * connect() as a rejection before any packet is sent, from the QuicTransport constructor, and a
 * Session refuses a transport's goawayCloseWaitMs a timer cannot wait. Before, quinn's settings
 * were handed to the binding as they came, which silently wraps them to a u32 (-1 became
 * 4294967295), and a timer of 2^31 ms or more fires after 1 ms. Each range is tested at both ends,
 * and the least values run a real connection. Cost: one QUIC connection, about 0.5 s.
 */

import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '../../src/arguments.ts';
import { connect, createServer } from '../../src/index.ts';
import { Session } from '../../src/session/index.ts';
import { checkQuicOptions, quicAvailable, quicOptionRanges, QuicTransport } from '../../src/transport/index.ts';
import type { QuicConnection } from '../../src/transport/quic/binding.ts';
import { echoHandler, readAll, within } from '../integration/helpers.ts';
import { invalidArgument, RecordingTransport } from '../session/helpers.ts';

const available = quicAvailable();
if (!available) console.warn('[quic options] the real-connection case is SKIPPED: the QUIC binding (@chainsafe/libp2p-quic-linux-x64-gnu) does not load here');

const unusedConnection = {} as QuicConnection;

describe('QUIC options are validated (spec §14.7)', () => {
  it('each numeric option: its least and greatest value pass; one past either end, a fraction, NaN or a string is INVALID_ARGUMENT naming it', () => {
    expect(Object.keys(quicOptionRanges).sort()).toEqual(
      ['closeTimeoutMs', 'goawayCloseWaitMs', 'handshakeTimeoutMs', 'keepAliveIntervalMs', 'maxConnections', 'maxIdleTimeoutMs', 'maxQuicStreams', 'port', 'quicConnectionWindow', 'quicStreamWindow', 'streamHighWater', 'udpBufferBytes'],
    );
    for (const [key, [min, max]] of Object.entries(quicOptionRanges)) {
      expect(() => { checkQuicOptions({ [key]: min }); }, `${key} = ${min}`).not.toThrow();
      expect(() => { checkQuicOptions({ [key]: max }); }, `${key} = ${max}`).not.toThrow();
      for (const bad of [min - 1, max + 1, min + 0.5, Number.NaN, String(min)]) {
        expect(() => { checkQuicOptions({ [key]: bad }); }, `${key} = ${String(bad)}`).toThrow(invalidArgument);
      }
    }
    expect(() => { checkQuicOptions({ maxQuicStreams: 1 }); }).toThrow(/^quic\.maxQuicStreams must be an integer in 2\.\.4294967295, got 1$/u);
    expect(() => { checkQuicOptions({ goawayCloseWaitMs: 2 ** 31 }); }).toThrow(/^quic\.goawayCloseWaitMs must be an integer in 0\.\.2147483647, got 2147483648$/u);
    expect(quicOptionRanges.quicStreamWindow[1]).toBe(2 ** 32 - 1);
    expect(quicOptionRanges.closeTimeoutMs[1]).toBe(MAX_TIMER_MS);
  });

  it('createServer() throws it at once; connect() rejects with it (never throws) before it dials', async () => {
    expect(() => createServer({ quic: { goawayCloseWaitMs: -1 } })).toThrow(/quic\.goawayCloseWaitMs/u);
    expect(() => createServer({ quic: { quicStreamWindow: 2 ** 32 } })).toThrow(invalidArgument);
    expect(() => createServer({ quic: { streamHighWater: 0 } })).toThrow(invalidArgument);
    let dialing: Promise<unknown> | undefined;
    // Port 9 (discard): nothing answers; a dial would fail with CONNECTION_LOST or time out, not INVALID_ARGUMENT.
    expect(() => (dialing = connect({ url: 'quic://127.0.0.1:9', connectTimeoutMs: 5000, quic: { maxIdleTimeoutMs: 1.5 } }))).not.toThrow();
    await expect(dialing).rejects.toThrow(/quic\.maxIdleTimeoutMs must be an integer/u);
  });

  it('the QuicTransport constructor checks its tuning; a Session checks its transport\'s goawayCloseWaitMs', () => {
    expect(() => new QuicTransport(unusedConnection, 'client', { closeTimeoutMs: MAX_TIMER_MS + 1 })).toThrow(invalidArgument);
    expect(() => new QuicTransport(unusedConnection, 'client', { goawayCloseWaitMs: Number.POSITIVE_INFINITY })).toThrow(invalidArgument);
    expect(new QuicTransport(unusedConnection, 'client', { goawayCloseWaitMs: MAX_TIMER_MS, streamHighWater: 1 }).goawayCloseWaitMs).toBe(MAX_TIMER_MS);
    const transport = (goawayCloseWaitMs: number): RecordingTransport => Object.assign(new RecordingTransport(), { goawayCloseWaitMs });
    expect(() => new Session({ role: 'client' }, transport(MAX_TIMER_MS + 1))).toThrow(/transport goawayCloseWaitMs must be an integer in 0\.\.2147483647/u);
    expect(() => new Session({ role: 'client' }, transport(-1))).toThrow(invalidArgument);
    expect(() => new Session({ role: 'client' }, transport(0))).not.toThrow();
  });

  it.skipIf(!available)('a connection with the least values works: 2 QUIC streams, a high-water mark of 1 byte, windows of 1 KiB, no GOAWAY wait', async () => {
    const least = { maxQuicStreams: 2, streamHighWater: 1, goawayCloseWaitMs: 0, quicStreamWindow: 1024, quicConnectionWindow: 1024 };
    const server = createServer({ onStream: echoHandler(), quic: { port: 0, ...least } });
    await server.listen(0);
    const client = await connect({ url: `quic://127.0.0.1:${String(server.quicAddress?.port)}`, connectTimeoutMs: 5000, quic: least });
    try {
      const stream = client.open({ kind: 'echo' });
      const reading = readAll(stream);
      const message = new Uint8Array(64 * 1024).fill(7);
      await stream.write(message);
      await stream.end();
      expect(Buffer.compare(Buffer.concat(await within(reading, 10_000, 'echo at the least QUIC values')), message)).toBe(0);
      expect((await stream.outcome).status).toBe('completed');
    } finally {
      client.destroy();
      await server.close({ deadlineMs: 100 });
    }
  });
});

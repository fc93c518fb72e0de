/**
 * The bound of FW-QUIC-12 with the real library on loopback: a peer that sends GOAWAY and then
 * never closes holds the reference server only for goawayCloseWaitMs once no stream is left. The
 * wait itself (an OPEN read during it is served) is FW-QUIC-12/open-read-after-goaway in the QUIC
 * conformance run, and its exact timing is in test/session/goaway.test.ts on a manual clock.
 * Cost: one QUIC connection, about half a second. Skipped, loudly, where the QUIC binding does not load.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type FramewireServer } from '../../src/index.ts';
import { dialRawQuic, quicAvailable, type RawQuicConnection } from '../../src/transport/quic/index.ts';
import { encodeGoawayPayload, encodeHelloPayload, FrameBatch, FrameDecoder, FrameType, HANDSHAKE_MAX_PAYLOAD } from '../../src/wire/index.ts';
import { within } from '../integration/helpers.ts';

const available = quicAvailable();
if (!available) console.warn('[quic goaway] SKIPPED: the QUIC binding (@chainsafe/libp2p-quic-linux-x64-gnu) does not load here');

const WAIT_MS = 300;

const servers: FramewireServer[] = [];
const peers: RawQuicConnection[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await within(Promise.all(servers.splice(0).map((s) => s.close({ deadlineMs: 100 }))), 5000, 'quic cleanup');
});

describe.skipIf(!available)('GOAWAY over QUIC (FW-QUIC-12)', () => {
  it(`FW-QUIC-12: a peer that sends GOAWAY and never closes is closed by the server goawayCloseWaitMs (${WAIT_MS} ms) later, cleanly`, async () => {
    const server = createServer({ quic: { goawayCloseWaitMs: WAIT_MS } });
    servers.push(server);
    await server.listen(0, '127.0.0.1');
    const peer = await dialRawQuic({ host: '127.0.0.1', port: server.quicAddress!.port });
    peers.push(peer);
    const control = await peer.openStream();
    const out = new FrameBatch();
    out.push(FrameType.HELLO, 0, 0, 0, encodeHelloPayload({ versions: [1], settings: {} }));
    out.push(FrameType.GOAWAY, 0, 0, 1, encodeGoawayPayload({ lastStream: 0, code: 0 }));
    const started = performance.now();
    await control.write(Buffer.concat(out.take()));

    // The server's half of the control stream up to its FIN: the close it makes itself.
    const types: number[] = [];
    const decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD }, (frame) => types.push(frame.type));
    const readToFin = async (): Promise<void> => {
      for (let chunk = await control.read(64 * 1024); chunk !== null; chunk = await control.read(64 * 1024)) decoder.push(chunk);
    };
    await within(readToFin(), 5000, 'the server ends the control stream');
    const elapsed = performance.now() - started;

    expect(types[0]).toBe(FrameType.HELLO);
    expect(types).not.toContain(FrameType.ERROR);
    expect(elapsed).toBeGreaterThanOrEqual(WAIT_MS);
    expect(elapsed).toBeLessThan(WAIT_MS + 3000);
  }, 15_000);
});

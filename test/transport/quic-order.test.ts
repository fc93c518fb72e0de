/**
 * What one byte stream gave the session for free and QUIC does not: the order of frames across
 * streams. An in-memory QUIC connection (fake-quic.ts) holds back one QUIC stream's bytes, as a
 * lost packet would, so each ordering rule of spec §14 is exercised deterministically:
 * OPENs reach the session in id order (FW-QUIC-4), no stream frame overtakes the peer's HELLO
 * (FW-QUIC-4), and the end of the control stream does not overtake the last frames of the other
 * streams (FW-QUIC-8).
 */

import { describe, expect, it } from 'vitest';
import { Session, type Stream } from '../../src/session/index.ts';
import { QuicTransport } from '../../src/transport/index.ts';
import { echoHandler, readAll, sleep, within } from '../integration/helpers.ts';
import { fakeConnectionPair, hold, type FakeConnection } from './fake-quic.ts';

function pair(onServerStream?: (stream: Stream, session: Session) => void): { client: Session; server: Session; clientConn: FakeConnection; serverConn: FakeConnection } {
  const [clientConn, serverConn] = fakeConnectionPair();
  const ct = new QuicTransport(clientConn, 'client', { closeTimeoutMs: 500 });
  const st = new QuicTransport(serverConn, 'server', { closeTimeoutMs: 500 });
  const client = new Session({ role: 'client' }, ct, (s) => echoHandler()(s));
  const server = new Session({ role: 'server' }, st, onServerStream ?? ((s) => echoHandler()(s)));
  st.attach(server);
  ct.attach(client);
  return { client, server, clientConn, serverConn };
}

describe('QUIC transport: order across QUIC streams', () => {
  it('FW-QUIC-4: the OPEN of stream 3 arriving before the OPEN of stream 1 still reaches the session after it', async () => {
    const { client, server, serverConn } = pair();
    await within(client.ready, 2000, 'handshake');
    // QUIC stream 4 carries framewire stream 1: its bytes are "lost" until released.
    serverConn.holdOnArrival.add(4);
    const first = client.open({ kind: 'echo' });
    const second = client.open({ kind: 'echo' });
    const r1 = readAll(first);
    const r2 = readAll(second);
    await first.write(new Uint8Array([1]));
    await first.end();
    await second.write(new Uint8Array([3]));
    await second.end();
    await sleep(50);
    // Stream 3 is complete on the wire but waits: the session has not seen stream 1's OPEN yet.
    expect(server.activeStreams).toBe(0);
    hold(serverConn, 4, false);
    const [e1, e2] = await within(Promise.all([r1, r2]), 2000, 'both echoed');
    expect(e1).toEqual([new Uint8Array([1])]);
    expect(e2).toEqual([new Uint8Array([3])]);
    expect(server.isOpen).toBe(true);
  });

  it("FW-QUIC-4: a server-opened stream whose OPEN overtakes the server's HELLO waits for it", async () => {
    const [clientConn, serverConn] = fakeConnectionPair();
    const ct = new QuicTransport(clientConn, 'client');
    const st = new QuicTransport(serverConn, 'server');
    const received: Uint8Array[] = [];
    const client = new Session({ role: 'client' }, ct, async (s) => {
      for await (const m of s) received.push(m);
      await s.end();
    });
    const server = new Session({ role: 'server' }, st);
    st.attach(server);
    // The control stream (QUIC stream 0) reaches the client late: the server's HELLO is "lost".
    clientConn.holdOnArrival.add(0);
    ct.attach(client);
    await within(server.ready, 2000, 'server handshake');
    const push = server.open({ kind: 'push' });
    const opened = readAll(push);
    await push.write(new Uint8Array([42]));
    await push.end();
    await sleep(50);
    hold(clientConn, 0, false);
    await within(client.ready, 2000, 'client handshake');
    await within(opened, 2000, 'push stream done');
    expect(received).toEqual([new Uint8Array([42])]);
    expect(client.isOpen).toBe(true);
  });

  it('FW-QUIC-8: after GOAWAY, the end of the control stream does not overtake the last DONE of a stream', async () => {
    const { client, server, clientConn } = pair((stream) => {
      void (async () => {
        for await (const m of stream) await stream.write(m);
        await stream.end({ last: true });
      })();
    });
    await within(client.ready, 2000, 'handshake');
    const s = client.open({ kind: 'echo' });
    const reading = readAll(s);
    await s.write(new Uint8Array([7]));
    await sleep(20);
    // From now on the client does not get stream 1's frames (its echo and DONE) until released.
    hold(clientConn, 4, true);
    const going = server.goaway({ deadlineMs: 2000 });
    await s.end();
    await sleep(100);
    hold(clientConn, 4, false);
    await within(going, 3000, 'server drained');
    expect(await within(reading, 2000, 'echo')).toEqual([new Uint8Array([7])]);
    const outcome = await s.outcome;
    expect(outcome.status).toBe('completed');
    expect((await client.closed).error).toBeUndefined();
  });

  it("FW-QUIC-6: a peer that ends a live stream's QUIC stream (FIN before its framewire stream ended) fails the connection with PROTOCOL_ERROR", async () => {
    const { client, server, clientConn } = pair();
    await within(client.ready, 2000, 'handshake');
    const s = client.open({ kind: 'echo' });
    await s.write(new Uint8Array([1]));
    await sleep(20);
    // Below the session: the client's side of QUIC stream 4 is finished while stream 1 is live.
    await clientConn.streams.find((x) => x.index === 4)!.finishWrite();
    const end = await within(server.closed, 2000, 'server closed');
    expect(end.error?.code).toBe('PROTOCOL_ERROR');
    expect(end.error?.message).toMatch(/FW-QUIC-6/);
  });
});

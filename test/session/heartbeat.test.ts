/** Heartbeat and idle timeout (spec §8.5), on a ManualClock. */

import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/session/clock.ts';
import { Heartbeat } from '../../src/session/heartbeat.ts';
import { FrameType, PingFlags } from '../../src/wire/index.ts';
import { connectedClient, connectedServer, expectConnectionError, expectStillOpen, flush, ofType } from './helpers.ts';

const pings = (frames: Parameters<typeof ofType>[0]): { ack: boolean; payload: number[] }[] =>
  ofType(frames, FrameType.PING).map((f) => ({ ack: (f.flags & PingFlags.ACK) !== 0, payload: [...f.payload] }));

describe('heartbeat', () => {
  it('FW-HB-2: a PING is answered with the ACK flag and the same 8 bytes', async () => {
    const h = await connectedServer();
    h.peer.ping(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    h.peer.ping(Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1));
    await flush();
    expect(pings(h.transport.take())).toEqual([
      { ack: true, payload: [1, 2, 3, 4, 5, 6, 7, 8] },
      { ack: true, payload: [8, 7, 6, 5, 4, 3, 2, 1] },
    ]);
  });

  it('FW-HB-2: the answer copies the bytes, not a view of a buffer the transport reuses', async () => {
    const h = await connectedServer();
    const buffer = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1);
    h.peer.ping(buffer);
    buffer.fill(0xee);
    await flush();
    expect(pings(h.transport.take())).toEqual([{ ack: true, payload: [1, 1, 1, 1, 1, 1, 1, 1] }]);
  });

  it('FW-HB-3: a PING with the ACK flag is not answered, even one we never sent', async () => {
    const h = await connectedServer();
    h.peer.ping(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), true);
    await flush();
    expect(pings(h.transport.take())).toEqual([]);
    expectStillOpen(h);
  });

  it('FW-HB-1: the first PING goes out right after the handshake (for the RTT)', async () => {
    const h = await connectedServer();
    expect(pings(h.transport.frames).map((p) => p.ack)).toEqual([false]);
  });

  it('FW-HB-1: nothing received for heartbeat_interval_ms sends a PING without ACK', async () => {
    const h = await connectedClient({ settings: { heartbeatIntervalMs: 1000, idleTimeoutMs: 0 } }, {}, { answerPing: true, rttMs: 10 });
    h.clock.advance(990);
    await flush();
    expect(pings(h.transport.take())).toEqual([]);
    // The ticker checks every quarter interval: the PING is late by at most 250 ms.
    h.clock.advance(510);
    await flush();
    expect(pings(h.transport.take()).map((p) => p.ack)).toEqual([false]);
  });

  it('FW-HB-1: a peer that keeps talking gets no PING from us', async () => {
    const h = await connectedClient({ settings: { heartbeatIntervalMs: 1000, idleTimeoutMs: 0 } }, {}, { answerPing: true });
    h.transport.take();
    for (let i = 0; i < 20; i++) {
      h.clock.advance(400);
      h.peer.ping(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, i));
      await flush();
    }
    const answers = pings(h.transport.take());
    expect(answers).toHaveLength(20);
    expect(answers.every((p) => p.ack)).toBe(true);
  });

  it('FW-HB-4: nothing received for idle_timeout_ms is ERROR IDLE_TIMEOUT; open streams fail IDLE_TIMEOUT (retryable)', async () => {
    const h = await connectedClient({ settings: { heartbeatIntervalMs: 1000, idleTimeoutMs: 3000 } });
    const s = h.session.open({ kind: 'k' });
    await flush();
    h.clock.advance(2900);
    await flush();
    expectStillOpen(h);
    h.clock.advance(1000);
    await expectConnectionError(h, 'IDLE_TIMEOUT');
    expect(await s.outcome).toMatchObject({ status: 'failed', error: { code: 'IDLE_TIMEOUT', retryable: true, remote: false } });
  });

  it('FW-HB-4: any received frame counts as a sign of life', async () => {
    const h = await connectedClient({ settings: { heartbeatIntervalMs: 0, idleTimeoutMs: 3000 } });
    const s = h.session.open({ kind: 'k' });
    await flush();
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1000);
      h.peer.credit(s.id, 1_000_000 + i);
      await flush();
    }
    expectStillOpen(h);
  });

  it('session.ping() resolves with the round-trip time measured on the clock', async () => {
    const h = await connectedClient();
    const first = h.session.ping();
    h.clock.advance(25);
    h.peer.answerPings(h.transport.frames);
    expect(await first).toBe(25);
    expect(h.session.rttMs).toBe(25);

    const second = h.session.ping();
    await flush();
    const sent = ofType(h.transport.take(), FrameType.PING);
    expect(sent).toHaveLength(1);
    h.clock.advance(5);
    // An ACK with other bytes is ignored: the PING stays outstanding.
    h.peer.ping(new Uint8Array(8).fill(0xab), true);
    h.clock.advance(5);
    h.peer.answerPings(sent);
    expect(await second).toBe(10);
    // Smoothed (RFC 6298 weights).
    expect(h.session.rttMs).toBeCloseTo(25 * 0.875 + 10 * 0.125);
  });

  it('session.ping() on a closed session rejects with CLOSED', async () => {
    const h = await connectedClient();
    h.session.close();
    await expect(h.session.ping()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('Heartbeat: its own stall is not the peer\'s silence', () => {
  /** A clock whose interval callbacks run only when the test says, at the time it sets. */
  function steppedClock(): { clock: Clock; at: (ms: number) => void } {
    let now = 0;
    let tick: (() => void) | undefined;
    const clock: Clock = {
      now: () => now,
      defer: (fn) => { queueMicrotask(fn); },
      setTimeout: () => ({ cancel: () => undefined }),
      setInterval: (fn) => {
        tick = fn;
        return { cancel: () => { tick = undefined; } };
      },
    };
    return { clock, at: (ms) => { now = ms; tick?.(); } };
  }

  it('FW-HB-4: a tick seconds late (this process blocked) does not declare the peer idle; real silence after it still does', () => {
    const { clock, at } = steppedClock();
    const idle: number[] = [];
    const hb = new Heartbeat(clock, 0, 1000, { sendPing: () => undefined, onIdle: (ms) => idle.push(ms) });
    hb.start(); // checks every 250 ms
    at(250);
    hb.markReceived();
    at(500);
    // Blocked for 5 s: the peer's frames wait in the socket; the first tick runs before they are read.
    at(5500);
    expect(idle).toEqual([]);
    hb.markReceived(); // the loop read them
    at(5750);
    at(6000);
    expect(idle).toEqual([]);
    // Then the peer really goes quiet: idle once 1000 ms pass after the tick that saw its last frame (5750).
    for (let t = 6250; t <= 6500; t += 250) at(t);
    expect(idle).toEqual([]);
    at(6750);
    expect(idle).toEqual([1000]);
  });

  it('FW-HB-4: ticks on time with nothing received declare the peer idle after idle_timeout_ms', () => {
    const { clock, at } = steppedClock();
    const idle: number[] = [];
    const hb = new Heartbeat(clock, 0, 1000, { sendPing: () => undefined, onIdle: (ms) => idle.push(ms) });
    hb.start();
    for (let t = 250; t < 1000; t += 250) at(t);
    expect(idle).toEqual([]);
    at(1000);
    expect(idle).toEqual([1000]);
  });
});

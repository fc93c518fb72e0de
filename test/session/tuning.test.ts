/**
 * Inputs of the flow-control auto-tuning (FW-FLOW-5): the window doubles only while half a window
 * is consumed within about one RTT, the RTT used is the smallest sample (queueing behind our own
 * data must not make the window grow further), and the clock is read only when a CREDIT is due.
 */

import { describe, expect, it } from 'vitest';
import { ReceiveWindow } from '../../src/flow/index.ts';
import { Heartbeat } from '../../src/session/heartbeat.ts';
import { ManualClock } from '../../src/session/index.ts';

describe('ReceiveWindow auto-tuning inputs', () => {
  it('reads the clock and the RTT only when a CREDIT is due', () => {
    const w = new ReceiveWindow({ initial: 1000, max: 8000, label: 'c' });
    let clockReads = 0;
    let rttReads = 0;
    const now = (): number => {
      clockReads++;
      return 0;
    };
    const rtt = (): number => {
      rttReads++;
      return 10;
    };
    w.receive(1000);
    for (let i = 0; i < 4; i++) expect(w.consume(100, now, rtt)).toBeUndefined();
    expect(clockReads).toBe(1);
    expect(rttReads).toBe(0);
    expect(w.consume(100, now, rtt)).toBe(2000 + 500);
    expect(rttReads).toBe(1);
  });

  it('FW-FLOW-5: grows only while half a window is consumed within about one RTT (2 RTTs per window)', () => {
    // 500 bytes (half the window) consumed in 15 ms with a 10 ms RTT: slower than 2 RTTs per window.
    const slow = new ReceiveWindow({ initial: 1000, max: 8000, label: 'c' });
    slow.receive(1000);
    slow.consume(1, 0, 10);
    slow.consume(499, 15, 10);
    expect(slow.window).toBe(1000);
    // The same in 5 ms: the window was the limit, it doubles.
    const fast = new ReceiveWindow({ initial: 1000, max: 8000, label: 'c' });
    fast.receive(1000);
    fast.consume(1, 0, 10);
    fast.consume(499, 5, 10);
    expect(fast.window).toBe(2000);
  });
});

describe('Heartbeat RTT samples', () => {
  it('minRttMs keeps the smallest sample; rttMs is smoothed', () => {
    const clock = new ManualClock();
    const sent: Uint8Array[] = [];
    const hb = new Heartbeat(clock, 0, 0, { sendPing: (p) => sent.push(p), onIdle: () => undefined });
    expect(hb.minRttMs).toBe(0);
    for (const rtt of [10, 4, 30]) {
      hb.ping();
      clock.advance(rtt);
      hb.onPingAck(sent[sent.length - 1]!);
    }
    expect(hb.minRttMs).toBe(4);
    expect(hb.rttMs).toBeGreaterThan(4);
  });
});

/** The session's pump defers through the injected clock (Clock.defer), like its timers: no direct nextTick/setImmediate/queueMicrotask. */

import { describe, expect, it } from 'vitest';
import { ManualClock, Session, type DeferPhase } from '../../src/session/index.ts';
import { FrameType } from '../../src/wire/index.ts';
import { bytes, flush, ofType, Peer, RecordingTransport } from './helpers.ts';

/** A manual clock that also holds deferred work until the test runs it. */
class HeldClock extends ManualClock {
  override readonly defer = (fn: () => void, phase: DeferPhase): void => {
    this.held.push({ fn, phase });
  };
  readonly held: { fn: () => void; phase: DeferPhase }[] = [];

  /** Runs what is held now (not what that queues); returns the phases it ran. */
  runHeld(): DeferPhase[] {
    const tasks = this.held.splice(0);
    for (const task of tasks) task.fn();
    return tasks.map((t) => t.phase);
  }
}

describe('deferred work goes through the clock', () => {
  it('writes are sent when the clock runs the pump it deferred, and a burst yields through the clock', async () => {
    const clock = new HeldClock();
    const transport = new RecordingTransport();
    const session = new Session({ role: 'client', clock, limits: { sendBurstBytes: 2048 } }, transport);
    const peer = new Peer(session);
    session.start();
    peer.hello({ versions: [1], settings: { initialStreamCredit: 1 << 20, initialConnectionCredit: 1 << 20, maxFramePayload: 1024 } });
    await session.ready;
    expect(clock.runHeld()).toContain('tick');
    transport.take();

    const s = session.open({ kind: 'k' });
    void s.write(bytes(8192));
    await flush();
    // Nothing went out: the pump waits for the clock.
    expect(ofType(transport.take(), FrameType.DATA)).toEqual([]);
    expect(clock.runHeld()).toEqual(['tick']);
    const first = transport.take();
    expect(ofType(first, FrameType.OPEN)).toHaveLength(1);
    // The burst budget (2 KiB) ran out: the pump yields with an 'immediate' and sends the rest when it runs.
    const sent = ofType(first, FrameType.DATA).length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(8);
    const phases: DeferPhase[] = [];
    for (let i = 0; i < 20 && clock.held.length > 0; i++) phases.push(...clock.runHeld());
    expect(phases).toContain('immediate');
    expect(sent + ofType(transport.take(), FrameType.DATA).length).toBe(8);
  });
});

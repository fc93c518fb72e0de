/**
 * Issue 12, item 3: a custom replay store whose dispose() throws synchronously used to escape from
 * the grace-period timer and end the process. Now the throw is reported as an internal error, the
 * instance is dropped all the same, and the service goes on.
 */

import { describe, expect, it } from 'vitest';
import { EventService, MemoryReplayLog, type ReplayLimits, type ReplayStore } from '../../src/api/events.ts';
import { ManualClock, Session } from '../../src/session/index.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { Peer, RecordingTransport, settle } from '../session/helpers.ts';

class ThrowingDisposeLog extends MemoryReplayLog {
  override dispose(): void {
    throw new TypeError('dispose() is broken');
  }
}

const throwingStore: ReplayStore = { create: (_n: string, _k: string, limits: ReplayLimits) => new ThrowingDisposeLog(limits) };

describe('event instance guard', () => {
  it('a replay log whose dispose() throws, at the end of the grace period: reported, the instance is dropped, the clock goes on', async () => {
    const reports = expectInternalErrors();
    const clock = new ManualClock();
    const events = new EventService({ clock, graceMs: 1000, heartbeatMs: 0, store: throwingStore });
    events.handle('ticks', async function* ({ signal }) {
      for (let i = 1; !signal.aborted; i++) {
        yield { type: 't', data: i };
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    const transport = new RecordingTransport();
    const session = new Session({ role: 'server', clock }, transport, (stream, s) => {
      events.handle(stream, s);
    });
    session.start();
    const peer = new Peer(session);
    peer.hello();
    peer.open(1, { kind: 'events.subscribe', target: 'ticks', meta: { key: 'k1' } });
    await settle();
    expect(events.size).toBe(1);
    // The subscriber's connection is lost; the grace period runs out.
    session.transportClosed();
    await settle();
    expect(events.size).toBe(1);
    expect(() => { clock.advance(1500); }).not.toThrow();
    expect(events.size).toBe(0);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ where: 'replay log dispose', error: { message: 'dispose() is broken' } });
  });
});

/**
 * Issue 12, item 3, on the client side: the subscriber's timers run behind the guard. A connection
 * (injected, application code) whose close() throws when the heartbeat timeout gives it up used to
 * throw out of a timer; now the subscription fails with INTERNAL and the error is reported.
 */

import { describe, expect, it } from 'vitest';
import { subscribeWith } from '../../src/events/index.ts';
import { ManualClock, type ClientConnection } from '../../src/session/index.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { connectedClient, flush } from '../session/helpers.ts';

describe('subscriber guard', () => {
  it('a connection whose close() throws at the heartbeat timeout: the subscription fails with INTERNAL, nothing escapes the timer', async () => {
    const reports = expectInternalErrors();
    const clock = new ManualClock();
    const h = await connectedClient();
    const connection: ClientConnection = {
      open: (options) => h.session.open(options),
      isOpen: true,
      close: () => {
        throw new TypeError('close() is broken');
      },
    };
    const sub = subscribeWith(() => Promise.resolve(connection), 'ticks', { clock, heartbeatTimeoutMs: 1000, reconnect: false });
    await flush();
    await flush();
    // The server never answers: the heartbeat timeout gives the connection up, and close() throws.
    expect(() => { clock.advance(1500); }).not.toThrow();
    const outcome = await sub.outcome;
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
    expect(reports.map((r) => r.where)).toContain('subscriber timer');
    expect(reports[0]!.error).toMatchObject({ message: 'close() is broken' });
  });
});

/**
 * Issue 12, item 3, on the client side: the uploader's timers (stall watch, backoff) run behind the
 * guard. A connection (injected, application code) whose close() throws when the stall watch gives
 * it up used to throw out of a timer; now the error is reported and the round ends.
 */

import { describe, expect, it } from 'vitest';
import { uploadWith } from '../../src/upload/index.ts';
import { ManualClock, type ClientConnection } from '../../src/session/index.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { connectedClient, flush } from '../session/helpers.ts';

describe('uploader guard', () => {
  it('a connection whose close() throws at the stall timeout: reported, nothing escapes the timer, the upload ends', async () => {
    const reports = expectInternalErrors();
    const clock = new ManualClock();
    const h = await connectedClient();
    const connection: ClientConnection = {
      open: (options) => h.session.open(options),
      get isOpen() {
        return h.session.isOpen;
      },
      close: () => {
        throw new TypeError('close() is broken');
      },
    };
    const uploading = uploadWith(() => Promise.resolve(connection), Buffer.alloc(100, 1), { clock, stallTimeoutMs: 1000, retry: { maxAttempts: 1 } });
    const settled = uploading.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await flush();
    await flush();
    // The server never answers the create: the stall watch gives the connection up, and close() throws.
    expect(() => { clock.advance(1500); }).not.toThrow();
    expect(reports.map((r) => r.where)).toEqual(['uploader timer']);
    expect(reports[0]!.error).toMatchObject({ message: 'close() is broken' });
    // The connection really goes away (as the broken close() did not make it): the round ends and
    // the upload rejects (here with what the broken close() throws again when the round is cleaned up).
    h.session.close();
    expect(await settled).toBeInstanceOf(Error);
  });
});

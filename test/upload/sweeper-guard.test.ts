/**
 * Issue 12, item 3: a custom store whose sweep() throws synchronously (rather than rejecting) used
 * to escape from the sweeper's interval and end the process. Now it is reported as an internal
 * error and the sweeper goes on.
 */

import { describe, expect, it } from 'vitest';
import { MemoryUploadStore } from '../../src/api/upload.ts';
import { UploadSweeper } from '../../src/upload/sweeper.ts';
import { expectInternalErrors } from '../internal-errors.ts';
import { waitFor } from '../integration/helpers.ts';

class ThrowingSweepStore extends MemoryUploadStore {
  calls = 0;
  override sweep(): Promise<number> {
    this.calls++;
    throw new TypeError('sweep() is broken');
  }
}

describe('upload sweeper', () => {
  it('a store whose sweep() throws synchronously: runOnce() resolves 0, the interval goes on, each throw is reported', async () => {
    const reports = expectInternalErrors();
    const store = new ThrowingSweepStore();
    const sweeper = new UploadSweeper(store, 5);
    let once: Promise<number> | undefined;
    expect(() => (once = sweeper.runOnce())).not.toThrow();
    expect(await once).toBe(0);
    sweeper.start();
    await waitFor(() => store.calls >= 4, 2000, 'sweeps keep running');
    await sweeper.stop();
    expect(reports.length).toBe(store.calls);
    expect(reports[0]).toMatchObject({ where: 'upload sweeper: store.sweep()', error: { message: 'sweep() is broken' } });
  });
});

/**
 * Memory exhaustion through event instances (issue 12, item 9; spec/EVENTS.md FW-EV-71), end to
 * end: `framewire serve` in its own process with a 48 MiB replay budget (16 MiB per principal),
 * two attacker principals opening 600 subscriptions — zero credit and kept, or opened and dropped
 * at once — to the `tokens` stream, which produces as fast as its log takes events. The server's
 * RSS must stay within the stated bound, every refusal must be LIMIT_EXCEEDED with
 * retry_after_ms, and a third principal must still subscribe and receive every event in order.
 *
 * Measured before the fix with the same attack (test/events/fixtures/attack.ts --before, 1000
 * subscriptions, default settings): RSS 108 MiB → 1552 MiB, nothing refused. Cost: about 6 s.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { subscribe } from '../../src/api/events.ts';
import { attack, rssOf, startServe, type ServeProcess } from './fixtures/attack.ts';
import { sleep, waitFor } from './helpers.ts';

const MiB = 2 ** 20;
const serves: ServeProcess[] = [];
afterEach(async () => {
  for (const s of serves.splice(0)) await s.stop();
});

/** RSS growth allowed: the replay budget, counted twice for what the budget does not see (instances, producers, connections, heap slack). */
const BUDGET = 48 * MiB;
const BOUND = 2 * BUDGET;

describe('events: memory exhaustion through instances', () => {
  it.skipIf(process.platform !== 'linux')('FW-EV-71 FW-LIMIT-5: 600 zero-credit and dropped subscriptions keep the server under its replay budget; an honest principal is served', { timeout: 60_000 }, async () => {
    const serve = await startServe(2, ['--event-replay-budget', `${BUDGET / MiB}MiB`, '--event-replay-budget-per-principal', `${BUDGET / 3 / MiB}MiB`]);
    serves.push(serve);
    const pid = serve.child.pid!;
    await sleep(300);
    const base = await rssOf(pid);
    let peak = base;
    let samples = 0;
    const sampler = setInterval(() => {
      void rssOf(pid).then((r) => {
        peak = Math.max(peak, r);
        samples++;
      }, () => undefined);
    }, 25);
    try {
      const result = await attack(serve.port, serve.tokens.attackers, { subscriptions: 600, droppedShare: 0.25, perConnection: 50 });
      // Alice, meanwhile: her own principal, her own share of the budget.
      const started = performance.now();
      const alice = subscribe('tokens', { port: serve.port, auth: { token: serve.tokens.alice }, params: { count: 500, interval_ms: 0 }, reconnect: { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 10 } });
      const ids: number[] = [];
      for await (const e of alice) ids.push(e.id);
      const aliceMs = performance.now() - started;
      expect(await alice.outcome).toEqual({ status: 'done', summary: { tokens: 500 } });
      expect(ids).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      // The attackers' producers have paused by now; give the sampler a last look: 40 more samples
      // (1 s on a quiet machine), counted rather than slept, since a loaded one takes fewer in 1 s.
      const seen = samples;
      await waitFor(() => samples >= seen + 40, 30_000, 'the last RSS samples');
      expect(result.refused).toBeGreaterThan(0);
      expect(result.refusedWithoutRetryAfter).toBe(0);
      console.log(`[events exhaustion] ${result.attempted} hostile subscriptions, ${result.refused} refused with LIMIT_EXCEEDED; RSS ${(base / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB (+${((peak - base) / MiB).toFixed(0)}, bound +${BOUND / MiB}); alice's 500 events in ${aliceMs.toFixed(0)} ms`);
      expect(peak - base).toBeLessThan(BOUND);
      for (const c of result.connections) c.destroy();
    } finally {
      clearInterval(sampler);
    }
  });
});

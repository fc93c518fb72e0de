/**
 * The one retry policy of the resuming clients (src/session/retry.ts), on a manual clock and a
 * seeded random source: backoff sequence, jitter bounds, the attempt and time bounds of an
 * episode, retry_after_ms hints, and what an abort does to a wait. No test here sleeps.
 */

import { describe, expect, it } from 'vitest';
import { AbortError, FramewireError } from '../../src/errors.ts';
import { ManualClock, Retrier, resolveRetryPolicy, wait, type RetryDecision } from '../../src/session/index.ts';
import { prng } from '../integration/helpers.ts';
import { flush, invalidArgument } from './helpers.ts';

const lost = (message = 'lost'): FramewireError => new FramewireError('CONNECTION_LOST', message);
const policy = { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 5000 };

function delayOf(d: RetryDecision): number {
  if (!d.retry) throw new Error(`expected a retry, the policy gave up (${d.bound})`);
  return d.delayMs;
}

/** Settles `p` into what it did, without waiting for it. */
function track(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(
    () => (t.state = 'resolved'),
    (error: unknown) => {
      t.state = 'rejected';
      t.error = error;
    },
  );
  return t;
}

describe('retry policy', () => {
  it('FW-UP-33 FW-EV-90: the backoff doubles per failed attempt from initialDelayMs up to maxDelayMs; the jitter keeps it within [50 %, 100 %]', () => {
    const clock = new ManualClock();
    const top = new Retrier(policy, clock, () => 0.999_999);
    const bottom = new Retrier(policy, clock, () => 0);
    const tops = Array.from({ length: 9 }, () => delayOf(top.failed(lost())));
    const bottoms = Array.from({ length: 9 }, () => delayOf(bottom.failed(lost())));
    expect(tops).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(bottoms).toEqual([50, 100, 200, 400, 800, 1600, 2500, 2500, 2500]);
  });

  it('the jitter spreads delays over the whole band (seeded random, 1000 draws)', () => {
    const random = prng(0x5eed);
    const delays = Array.from({ length: 1000 }, () => {
      const r = new Retrier(policy, new ManualClock(), random);
      delayOf(r.failed(lost()));
      return delayOf(r.failed(lost()));
    });
    // The second failed attempt: 200 ms scaled into [100, 200].
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(200);
    // Spread, not constant: every fifth of the band is hit.
    const fifths = new Set(delays.map((d) => Math.min(4, Math.floor((d - 100) / 20))));
    expect(fifths.size).toBe(5);
  });

  it('gives up at maxAttempts failed attempts in a row; progress starts the count again', () => {
    const r = new Retrier({ ...policy, maxAttempts: 3 }, new ManualClock(), () => 0.5);
    expect(r.recovering).toBe(false);
    expect(r.failed(lost()).retry).toBe(true);
    expect(r.failed(lost()).retry).toBe(true);
    expect(r.recovering).toBe(true);
    r.progress();
    expect(r.recovering).toBe(false);
    const a = r.failed(lost('first'));
    const b = r.failed(lost('second'));
    const c = r.failed(lost('third'));
    expect([a.retry, b.retry]).toEqual([true, true]);
    expect(c).toMatchObject({ retry: false, bound: 'attempts', failures: 3 });
    if (c.retry) return;
    // The episode remembers the failure that began it and the latest.
    expect(c.first.message).toBe('first');
    expect(c.last.message).toBe('third');
  });

  it('FW-EV-90: work cut off after progress is resumed at once and is no failed attempt; maxAttempts 0 never retries', () => {
    const r = new Retrier(policy, new ManualClock(), () => 0.999_999);
    expect(r.interrupted(lost())).toEqual({ retry: true, failures: 0, delayMs: 0 });
    // The attempt that follows fails: now the backoff begins, at initialDelayMs.
    expect(r.failed(lost())).toEqual({ retry: true, failures: 1, delayMs: 100 });
    const never = new Retrier({ ...policy, maxAttempts: 0 }, new ManualClock());
    expect(never.interrupted(lost())).toMatchObject({ retry: false, bound: 'attempts', failures: 0 });
  });

  it('FW-UP-35 FW-EV-71 FW-ERR-4: retry_after_ms is a floor under the backoff, also for a retry that would go at once', () => {
    const r = new Retrier(policy, new ManualClock(), () => 0.999_999);
    const busy = (ms: number): FramewireError => new FramewireError('LIMIT_EXCEEDED', 'busy', { retryAfterMs: ms, remote: true });
    expect(delayOf(r.interrupted(busy(1000)))).toBe(1000);
    expect(delayOf(r.failed(busy(30)))).toBe(100);
    expect(delayOf(r.failed(busy(30_000)))).toBe(30_000);
    // The hint is the server's word: the backoff cap does not shorten it.
    expect(delayOf(r.failed(lost()))).toBe(400);
  });

  it('FW-EV-90: an episode that outlasts its time bound gives up, whatever the attempts left', () => {
    const clock = new ManualClock();
    const r = new Retrier(policy, clock);
    r.maxEpisodeMs = 1000;
    expect(r.interrupted(lost('cut')).retry).toBe(true);
    clock.advance(1000);
    expect(r.failed(lost()).retry).toBe(true);
    clock.advance(1);
    expect(r.failed(lost('late'))).toMatchObject({ retry: false, bound: 'time', failures: 2, elapsedMs: 1001 });
    // Progress starts a new episode, with a new clock.
    r.progress();
    clock.advance(5000);
    expect(r.failed(lost()).retry).toBe(true);
  });

  it('waits on the injected clock: nothing before the delay, resolved at it; 0 resolves at once', async () => {
    const clock = new ManualClock();
    const w = track(new Retrier(policy, clock).wait(250));
    clock.advance(249);
    await flush();
    expect(w.state).toBe('pending');
    clock.advance(1);
    await flush();
    expect(w.state).toBe('resolved');
    const zero = track(wait(clock, 0));
    await flush();
    expect(zero.state).toBe('resolved');
  });

  it('an aborted wait rejects at once with an AbortError whose cause is the signal\'s reason, and its timer is gone', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const w = track(wait(clock, 1000, ac.signal));
    clock.advance(10);
    const reason = new FramewireError('CANCELLED', 'the application gave up');
    ac.abort(reason);
    await flush();
    expect(w.state).toBe('rejected');
    expect(w.error).toBeInstanceOf(AbortError);
    expect(w.error).toMatchObject({ name: 'AbortError', code: 'CANCELLED', cause: reason });
    // An already-aborted signal rejects without arming a timer, also for a zero wait.
    const again = track(wait(clock, 0, ac.signal));
    await flush();
    expect(again.state).toBe('rejected');
    expect((again.error as AbortError).cause).toBe(reason);
    clock.advance(10_000);
    await flush();
    expect(w.state).toBe('rejected');
  });

  it('a policy value that is no count of attempts or milliseconds is refused at once', () => {
    expect(resolveRetryPolicy(policy, { maxAttempts: 3 })).toEqual({ ...policy, maxAttempts: 3 });
    for (const bad of [{ maxAttempts: -1 }, { initialDelayMs: Number.NaN }, { maxDelayMs: 1.5 }, { maxDelayMs: Infinity }]) {
      expect(() => resolveRetryPolicy(policy, bad), JSON.stringify(bad)).toThrow(invalidArgument);
    }
    expect(() => new Retrier({ ...policy, maxAttempts: -1 }, new ManualClock())).toThrow(/maxAttempts/);
  });
});

describe('retry policy: the first connection (FW-ERR-6)', () => {
  const refused = (): FramewireError => new FramewireError('CONNECTION_REFUSED', 'refused');
  const silent = (): FramewireError => new FramewireError('TIMEOUT', 'no HELLO', { details: { phase: 'handshake' } });

  it('before any connection: refused is final unless connectRetries allows it; a handshake timeout is final whatever the policy', () => {
    const clock = new ManualClock();
    const none = new Retrier(policy, clock).failed(refused());
    expect(none).toMatchObject({ retry: false, bound: 'setup', failures: 1 });
    const patient = new Retrier({ ...policy, connectRetries: 2 }, clock);
    expect(patient.failed(refused()).retry).toBe(true);
    expect(patient.failed(refused()).retry).toBe(true);
    expect(patient.failed(refused())).toMatchObject({ retry: false, bound: 'setup', failures: 3 });
    expect(new Retrier({ ...policy, connectRetries: 5 }, clock).failed(silent())).toMatchObject({ retry: false, bound: 'setup' });
    // An ordinary loss before the first connection is retried as before.
    expect(new Retrier(policy, clock).failed(lost()).retry).toBe(true);
  });

  it('after one connection was made, refused and handshake timeouts are retried like any loss', () => {
    const clock = new ManualClock();
    const r = new Retrier(policy, clock);
    r.connected();
    expect(r.failed(refused()).retry).toBe(true);
    expect(r.failed(silent()).retry).toBe(true);
    expect(resolveRetryPolicy(policy, { connectRetries: 3 }).connectRetries).toBe(3);
    expect(() => resolveRetryPolicy(policy, { connectRetries: -1 })).toThrow(invalidArgument);
  });
});

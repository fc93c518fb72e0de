/**
 * The retry policy of every client that resumes by itself — the uploader and the event
 * subscriber — written once, on the injected clock, so tests drive it without sleeping (undici
 * likewise keeps its retry rules in one handler). Which failures are worth a retry is decided
 * before, by `classifyFailure` (failure.ts); this module decides when, and until when.
 *
 * An episode of failures begins at the first failure after progress and ends at the next
 * progress (a confirmed chunk, an event stream's `start`). Within it, after the n-th failed
 * attempt the client waits min(maxDelayMs, initialDelayMs × 2^(n−1)) scaled by a random factor in
 * [0.5, 1) — so clients cut off together do not come back together, yet each waits at least half
 * its backoff — and never less than the `retry_after_ms` the server sent with the failure
 * (LIMIT_EXCEEDED). Work that had progressed and was cut off is not a failed attempt: it is
 * resumed at once (n = 0), the hint still honoured. The client gives up once an episode counts
 * maxAttempts failed attempts, or has lasted longer than its time bound (an event stream's grace
 * period: later, the server has dropped what a resume needs).
 *
 * The first connection is special (spec FW-ERR-6): until a client has had one working connection,
 * a failure to set one up is a configuration error, not a network hiccup. A refused connection
 * (CONNECTION_REFUSED) ends the client at once unless the policy allows `connectRetries`; a
 * handshake that timed out (a peer that accepts and stays silent, likely not a framewire server)
 * ends it at once, always. After the first working connection, every failure is judged as above.
 *
 * Abort: a wait whose signal fires rejects at once, as Node's own timers/promises do, with an
 * AbortError whose `cause` is the signal's reason. The timer is cancelled.
 */

import { checkIntegers } from '../arguments.ts';
import { AbortError, type FramewireError } from '../errors.ts';
import type { Clock } from './clock.ts';

/**
 * How a resuming client retries: exponential backoff with jitter, and how many failed attempts in a row
 * end it.
 */
export interface RetryPolicy {
  /** Failed attempts in a row without progress before giving up; 0: never retry. */
  readonly maxAttempts: number;
  /** The wait after the first failed attempt; it doubles with each further one. */
  readonly initialDelayMs: number;
  /** The most the backoff grows to (a server's retry_after_ms may ask for longer). */
  readonly maxDelayMs: number;
  /** Retries of a first connection that was refused (nothing listening yet); default 0. */
  readonly connectRetries?: number;
}

/** Merges `overrides` over a profile's defaults; a value that is no count of attempts or milliseconds is INVALID_ARGUMENT. */
export function resolveRetryPolicy(defaults: RetryPolicy, overrides: Partial<RetryPolicy> | undefined): RetryPolicy {
  return checkIntegers('retry', { ...defaults, ...overrides });
}

export type RetryDecision =
  | { readonly retry: true; readonly failures: number; readonly delayMs: number }
  | {
      readonly retry: false;
      /** Which bound ended the episode; `setup`: the first connection could not be made (FW-ERR-6). */
      readonly bound: 'attempts' | 'time' | 'setup';
      readonly failures: number;
      readonly elapsedMs: number;
      /** The failure that began the episode, and the latest one. */
      readonly first: FramewireError;
      readonly last: FramewireError;
    };

interface Episode {
  readonly startedAt: number;
  readonly first: FramewireError;
  failures: number;
}

/** One client's retry state: the current episode of failures, judged by one policy. */
export class Retrier {
  readonly #policy: RetryPolicy;
  readonly #clock: Clock;
  readonly #random: () => number;
  #maxEpisodeMs: number | undefined;
  #episode: Episode | undefined;
  #everConnected = false;

  /** `random` (values in [0, 1)) is injected by tests that check the jitter. */
  constructor(policy: RetryPolicy, clock: Clock, random: () => number = Math.random) {
    this.#policy = resolveRetryPolicy(policy, undefined);
    this.#clock = clock;
    this.#random = random;
  }

  /** Between a failure and the next progress. */
  get recovering(): boolean {
    return this.#episode !== undefined;
  }

  /** Bounds every episode in time (undefined: no bound). */
  set maxEpisodeMs(ms: number | undefined) {
    this.#maxEpisodeMs = ms;
  }

  /** A connection was made (handshake done): from now on a failed connect is a network failure, not a setup error. */
  connected(): void {
    this.#everConnected = true;
  }

  /** The work moved forward: the episode of failures, if any, is over. */
  progress(): void {
    this.#episode = undefined;
  }

  /** An attempt failed (a connect, or work that made no progress since the last failure). */
  failed(error: FramewireError): RetryDecision {
    return this.#decide(error, 1);
  }

  /** Work that had progressed was cut off: not a failed attempt, so it is resumed at once. */
  interrupted(error: FramewireError): RetryDecision {
    return this.#decide(error, 0);
  }

  /** Waits `ms` on the policy's clock; see the module comment for what an abort does. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return wait(this.#clock, ms, signal);
  }

  #decide(error: FramewireError, counted: 0 | 1): RetryDecision {
    const now = this.#clock.now();
    const episode = (this.#episode ??= { startedAt: now, first: error, failures: 0 });
    episode.failures += counted;
    const { failures } = episode;
    const elapsedMs = now - episode.startedAt;
    if (!this.#everConnected && isSetupFailure(error, failures, this.#policy.connectRetries ?? 0)) {
      return { retry: false, bound: 'setup', failures, elapsedMs, first: episode.first, last: error };
    }
    const overTime = this.#maxEpisodeMs !== undefined && elapsedMs > this.#maxEpisodeMs;
    if (failures >= this.#policy.maxAttempts || overTime) {
      return { retry: false, bound: overTime ? 'time' : 'attempts', failures, elapsedMs, first: episode.first, last: error };
    }
    return { retry: true, failures, delayMs: Math.max(this.#backoffMs(failures), error.retryAfterMs ?? 0) };
  }

  #backoffMs(failures: number): number {
    if (failures === 0) return 0;
    const { initialDelayMs, maxDelayMs } = this.#policy;
    // The exponent is capped so a long episode cannot overflow to Infinity (0 × Infinity is NaN).
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failures - 1, 52));
    return Math.round(ceiling * (0.5 + this.#random() * 0.5));
  }
}

/** A failed first connection that retrying will not mend (FW-ERR-6); `failures` counts this one. */
function isSetupFailure(error: FramewireError, failures: number, connectRetries: number): boolean {
  if (error.code === 'CONNECTION_REFUSED') return failures > connectRetries;
  return error.code === 'TIMEOUT' && error.details?.['phase'] === 'handshake';
}

/** Resolves after `ms` on `clock` (at once for 0); rejects with an AbortError when `signal` fires first. */
export function wait(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(new AbortError('the wait was aborted', signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(new AbortError('the wait was aborted', signal as AbortSignal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Deadlines on progress, not on bytes (spec §8.8, FW-LIMIT-6, FW-LIMIT-7). The idle timeout of
 * §8.5 counts every frame as a sign of life, so a peer could hold a connection forever by pinging,
 * or hold a frame open by trickling it a byte at a time. Two more deadlines close that door, as
 * HTTP servers bound a request body's read time and close idle keep-alive connections:
 *
 * - a frame whose first bytes arrived must be complete within `frameTimeoutMs`;
 * - a connection with no open stream is given up after `unusedConnectionTimeoutMs`.
 *
 * Like the heartbeat, it is a coarse ticker that reads state: the receive path touches no timer.
 */

import type { Clock, TimerHandle } from './clock.ts';

export interface WatchdogHooks {
  /** Bytes of the frame in progress (0 at a frame boundary) and frames decoded so far; undefined when the transport cannot tell. */
  partialFrame(): { readonly bytes: number; readonly frames: number } | undefined;
  /** Since when the connection has had no open stream, or undefined while it has one. */
  unusedSince(): number | undefined;
  onFrameTimeout(elapsedMs: number, bytes: number): void;
  onUnused(elapsedMs: number): void;
}

export class Watchdog {
  readonly #clock: Clock;
  readonly #frameTimeoutMs: number;
  readonly #unusedTimeoutMs: number;
  readonly #hooks: WatchdogHooks;
  #ticker: TimerHandle | undefined;
  /** When the frame in progress was first seen, and the frame count then (a different count is a different frame). */
  #frameSeenAt: number | undefined;
  #frameCount = 0;

  constructor(clock: Clock, frameTimeoutMs: number, unusedTimeoutMs: number, hooks: WatchdogHooks) {
    this.#clock = clock;
    this.#frameTimeoutMs = frameTimeoutMs;
    this.#unusedTimeoutMs = unusedTimeoutMs;
    this.#hooks = hooks;
  }

  start(): void {
    const periods = [this.#frameTimeoutMs, this.#unusedTimeoutMs].filter((p) => p > 0);
    if (periods.length === 0 || this.#ticker !== undefined) return;
    // Several checks per period: a deadline is enforced late by at most a quarter of it (and 1 s).
    const every = Math.min(1000, Math.max(5, Math.floor(Math.min(...periods) / 4)));
    this.#ticker = this.#clock.setInterval(() => {
      this.#tick();
    }, every);
  }

  stop(): void {
    this.#ticker?.cancel();
    this.#ticker = undefined;
  }

  #tick(): void {
    const now = this.#clock.now();
    if (this.#frameTimeoutMs > 0) {
      const partial = this.#hooks.partialFrame();
      if (partial === undefined || partial.bytes === 0) {
        this.#frameSeenAt = undefined;
      } else if (this.#frameSeenAt === undefined || partial.frames !== this.#frameCount) {
        this.#frameSeenAt = now;
        this.#frameCount = partial.frames;
      } else if (now - this.#frameSeenAt >= this.#frameTimeoutMs) {
        this.#hooks.onFrameTimeout(now - this.#frameSeenAt, partial.bytes);
        return;
      }
    }
    if (this.#unusedTimeoutMs > 0) {
      const since = this.#hooks.unusedSince();
      if (since !== undefined && now - since >= this.#unusedTimeoutMs) this.#hooks.onUnused(now - since);
    }
  }
}

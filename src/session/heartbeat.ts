/**
 * Liveness (spec §8.5): a PING when nothing arrived for heartbeat_interval_ms, a dead peer after
 * idle_timeout_ms of silence, and the smoothed RTT the flow-control auto-tuning needs.
 * Receipt is recorded as a flag per frame and read by a coarse ticker, so the hot path never
 * touches a timer.
 */

import { PING_PAYLOAD_SIZE } from '../wire/index.ts';
import type { Clock, TimerHandle } from './clock.ts';

export interface HeartbeatHooks {
  /** Queue a PING with this payload. */
  sendPing(payload: Uint8Array): void;
  /** Nothing was received for `silentMs`, at least the idle timeout. */
  onIdle(silentMs: number): void;
}

export class Heartbeat {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #idleTimeoutMs: number;
  readonly #hooks: HeartbeatHooks;
  #ticker: TimerHandle | undefined;
  #everyMs = 0;
  #lastTickAt = 0;
  #receivedSinceTick = false;
  #lastActivity: number;
  #outstanding: { payload: Uint8Array; sentAt: number; waiters: ((rtt: number) => void)[] } | undefined;
  #counter = 0;
  #rttMs = 0;
  #minRttMs = 0;
  #samples = 0;

  constructor(clock: Clock, intervalMs: number, idleTimeoutMs: number, hooks: HeartbeatHooks) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#hooks = hooks;
    this.#lastActivity = clock.now();
  }

  /** Smoothed RTT (RFC 6298 weights), 0 until the first PING came back. */
  get rttMs(): number {
    return this.#rttMs;
  }

  /**
   * The smallest RTT sample so far, 0 until the first PING came back: the base round trip without
   * the queueing our own data adds. Flow-control auto-tuning uses it, so that a window that already
   * fills the queues (and so inflates later samples) does not make itself grow further.
   */
  get minRttMs(): number {
    return this.#minRttMs;
  }

  /** RTT samples taken so far. */
  get samples(): number {
    return this.#samples;
  }

  /** Called for every frame received: cheap on purpose. */
  markReceived(): void {
    this.#receivedSinceTick = true;
  }

  start(): void {
    const periods = [this.#intervalMs, this.#idleTimeoutMs].filter((p) => p > 0);
    if (periods.length === 0) return;
    // Checks several times per period: idle detection is late by at most a quarter period.
    const every = Math.min(1000, Math.max(5, Math.floor(Math.min(...periods) / 4)));
    this.#everyMs = every;
    this.#lastActivity = this.#clock.now();
    this.#lastTickAt = this.#lastActivity;
    this.#ticker = this.#clock.setInterval(() => {
      this.#tick();
    }, every);
  }

  /** Stops the ticker; pending ping() calls resolve with NaN. */
  stop(): void {
    this.#ticker?.cancel();
    this.#ticker = undefined;
    for (const w of this.#outstanding?.waiters ?? []) w(Number.NaN);
    this.#outstanding = undefined;
  }

  /** Sends a PING unless one is outstanding; `waiter` gets the RTT of the answer. */
  ping(waiter?: (rttMs: number) => void): void {
    if (this.#outstanding !== undefined) {
      if (waiter !== undefined) this.#outstanding.waiters.push(waiter);
      return;
    }
    const payload = Buffer.alloc(PING_PAYLOAD_SIZE);
    payload.writeUInt32BE(++this.#counter >>> 0, 4);
    this.#outstanding = { payload, sentAt: this.#clock.now(), waiters: waiter === undefined ? [] : [waiter] };
    this.#hooks.sendPing(payload);
  }

  /** A PING with the ACK flag arrived. Answers that match no outstanding PING are ignored. */
  onPingAck(payload: Uint8Array): void {
    const out = this.#outstanding;
    if (out === undefined || Buffer.compare(out.payload, payload) !== 0) return;
    const sample = this.#clock.now() - out.sentAt;
    this.#rttMs = this.#rttMs === 0 ? sample : this.#rttMs * 0.875 + sample * 0.125;
    if (this.#minRttMs === 0 || sample < this.#minRttMs) this.#minRttMs = sample;
    this.#samples++;
    this.#outstanding = undefined;
    for (const w of out.waiters) w(sample);
  }

  #tick(): void {
    const now = this.#clock.now();
    // A tick far later than scheduled means this process stalled (blocking work, a long GC pause).
    // What the peer sent meanwhile is still unread in the socket — timers run before the loop
    // reads — so the stall is not the peer's silence: it is left out of the count.
    const late = now - this.#lastTickAt - this.#everyMs;
    this.#lastTickAt = now;
    if (late > this.#everyMs) this.#lastActivity += late;
    if (this.#receivedSinceTick) {
      this.#receivedSinceTick = false;
      this.#lastActivity = now;
    }
    const silent = now - this.#lastActivity;
    if (this.#idleTimeoutMs > 0 && silent >= this.#idleTimeoutMs) {
      this.#hooks.onIdle(silent);
      return;
    }
    if (this.#intervalMs <= 0 || silent < this.#intervalMs) return;
    // A PING that went unanswered for a whole interval is given up, so probing goes on (the idle
    // timeout, not a lost answer, decides that the peer is dead).
    if (this.#outstanding !== undefined && now - this.#outstanding.sentAt >= this.#intervalMs && this.#outstanding.waiters.length === 0) {
      this.#outstanding = undefined;
    }
    if (this.#outstanding === undefined) this.ping();
  }
}

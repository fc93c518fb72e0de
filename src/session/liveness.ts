/**
 * Whether the connection is alive, and how far away the peer is (spec §8.5, §8.8): our heartbeat
 * and idle timeout, the frame and unused-connection deadlines, the peer's PINGs (answered ahead of
 * data, at most pingRatePerSecond) and the round-trip time that window auto-tuning works from.
 * The session decides what a dead or unused connection means (an error, a GOAWAY); this watches.
 */

import { FramewireError } from '../errors.ts';
import { PingFlags } from '../wire/index.ts';
import type { Clock } from './clock.ts';
import { Heartbeat } from './heartbeat.ts';
import type { ResolvedSessionOptions } from './options.ts';
import type { SessionStats } from './stats.ts';
import { TokenBucket } from './token-bucket.ts';
import { Watchdog } from './watchdog.ts';

/** RTT samples needed before receive windows may grow (see Liveness.tuningRtt). */
const TUNING_RTT_SAMPLES = 3;

/** What liveness needs of its session. */
export interface LivenessHost {
  /** Queue a PING (or its answer, with the ACK flag) ahead of data. */
  sendPing(flags: number, payload: Uint8Array): void;
  /** The connection is dead (idle) or stuck (a frame never completed): a connection error. */
  fail(error: FramewireError): void;
  /** No stream was open for `elapsedMs`, at least unusedConnectionTimeoutMs: the session goes away. */
  unused(elapsedMs: number): void;
  /** Bytes of the frame in progress and frames decoded so far; undefined when the transport cannot tell. */
  partialFrame(): { readonly bytes: number; readonly frames: number } | undefined;
  /** The handshake is done and the connection not closed. */
  isOpen(): boolean;
}

export class Liveness {
  readonly #clock: Clock;
  readonly #host: LivenessHost;
  readonly #stats: SessionStats;
  readonly #heartbeat: Heartbeat;
  readonly #watchdog: Watchdog;
  readonly #pingBucket: TokenBucket;
  readonly #pingRatePerSecond: number;
  /** Since when no stream is open (clock time), undefined while one is. */
  #unusedSince: number | undefined;

  /** `clock` is the session's guarded clock. */
  constructor(clock: Clock, options: ResolvedSessionOptions, stats: SessionStats, host: LivenessHost) {
    this.#clock = clock;
    this.#host = host;
    this.#stats = stats;
    const l = options.limits;
    this.#pingRatePerSecond = l.pingRatePerSecond;
    this.#pingBucket = new TokenBucket(l.pingRatePerSecond, l.pingBurst, clock);
    this.#heartbeat = new Heartbeat(clock, options.settings.heartbeatIntervalMs, options.settings.idleTimeoutMs, {
      sendPing: (payload) => {
        host.sendPing(0, payload);
      },
      onIdle: (silentMs) => {
        host.fail(new FramewireError('IDLE_TIMEOUT', `nothing received for ${Math.round(silentMs)} ms`));
      },
    });
    this.#watchdog = new Watchdog(clock, l.frameTimeoutMs, l.unusedConnectionTimeoutMs, {
      partialFrame: () => host.partialFrame(),
      unusedSince: () => this.#unusedSince,
      onFrameTimeout: (elapsedMs, bytes) => {
        host.fail(new FramewireError('TIMEOUT', `a frame was not completed within ${l.frameTimeoutMs} ms (${bytes} bytes of it in ${Math.round(elapsedMs)} ms)`));
      },
      onUnused: (elapsedMs) => {
        host.unused(elapsedMs);
      },
    });
  }

  /** Smoothed round-trip time from PINGs, 0 until measured. */
  get rttMs(): number {
    return this.#heartbeat.rttMs;
  }

  /** Since when (clock time) no stream has been open, undefined while one is. */
  get unusedSince(): number | undefined {
    return this.#unusedSince;
  }

  /** Called for every frame received: cheap on purpose. */
  markReceived(): void {
    this.#heartbeat.markReceived();
  }

  /** The handshake is done: the tickers start, and one PING right away, whose RTT drives window auto-tuning from the first window (FW-FLOW-5). */
  start(streamsOpen: boolean): void {
    this.#heartbeat.start();
    this.#unusedSince = streamsOpen ? undefined : this.#clock.now();
    this.#watchdog.start();
    this.#heartbeat.ping();
  }

  /** The connection is over: the tickers stop, pending ping() calls resolve with NaN. */
  stop(): void {
    this.#heartbeat.stop();
    this.#watchdog.stop();
  }

  /** A stream is open. */
  inUse(): void {
    this.#unusedSince = undefined;
  }

  /** The last open stream ended. */
  unused(): void {
    this.#unusedSince = this.#clock.now();
  }

  /** A PING from the peer: an answer to ours, or one to answer ahead of data (FW-HB-2). Throws ENHANCE_YOUR_CALM over the rate (FW-LIMIT-3). */
  onPing(flags: number, payload: Uint8Array): void {
    if ((flags & PingFlags.ACK) !== 0) {
      this.#heartbeat.onPingAck(payload);
      this.#stats.rttMs = this.#heartbeat.rttMs;
      return;
    }
    if (!this.#pingBucket.take()) throw new FramewireError('ENHANCE_YOUR_CALM', `more than ${this.#pingRatePerSecond} PINGs/s`);
    // Copy: the view aliases the transport's read buffer.
    this.#host.sendPing(PingFlags.ACK, Uint8Array.from(payload));
  }

  /** Measures the round-trip time with a PING (FW-HB-1); resolves with NaN if the connection ends first. */
  ping(): Promise<number> {
    return new Promise((resolve) => {
      this.#heartbeat.ping(resolve);
    });
  }

  /**
   * The RTT window auto-tuning works from (FW-FLOW-5): the smallest sample, not the smoothed RTT,
   * because samples taken while our windows fill the queues grow with the windows (bufferbloat),
   * and one sample is not trusted: the handshake PING's answer is often late because the
   * application starts writing at once. Until TUNING_RTT_SAMPLES samples exist, a CREDIT that
   * would consider growth sends another PING and reports 0 (unknown: no growth yet).
   */
  tuningRtt(): number {
    const hb = this.#heartbeat;
    if (hb.samples >= TUNING_RTT_SAMPLES) return hb.minRttMs;
    if (this.#host.isOpen()) hb.ping();
    return 0;
  }
}

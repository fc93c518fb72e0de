/**
 * The receiver's side of one flow-control window (spec §8.3).
 *
 * Three absolute offsets: bytes received, bytes the application consumed, and the limit advertised
 * to the peer. Credit is returned on *consumption*, not arrival, so a slow reader slows the sender
 * end to end and the bytes held never exceed the window (FW-FLOW-4). The window auto-tunes like
 * quic-go's: when a whole window was consumed in much less than the time it takes to advertise
 * (2 RTTs), the window was the bottleneck, so it doubles up to a ceiling (FW-FLOW-5).
 */

import { FramewireError } from '../errors.ts';

export interface ReceiveWindowOptions {
  /** The window first advertised (the HELLO setting). */
  readonly initial: number;
  /** Auto-tuning never grows the window beyond this. */
  readonly max: number;
  /** For error messages: "stream 5" or "connection". */
  readonly label: string;
}

/** The window doubles while it would be used up within this many RTTs (FW-FLOW-5). */
export const AUTO_TUNE_RTTS = 2;

export class ReceiveWindow {
  readonly #max: number;
  readonly #label: string;
  #window: number;
  #received = 0;
  #consumed = 0;
  #limit: number;
  #epochStart = -1;
  #epochConsumedAt = 0;

  constructor(options: ReceiveWindowOptions) {
    this.#window = options.initial;
    this.#limit = options.initial;
    this.#max = Math.max(options.max, options.initial);
    this.#label = options.label;
  }

  get received(): number {
    return this.#received;
  }

  get consumed(): number {
    return this.#consumed;
  }

  /** Bytes received but not yet consumed: what this window currently makes us hold. */
  get buffered(): number {
    return this.#received - this.#consumed;
  }

  get limit(): number {
    return this.#limit;
  }

  get window(): number {
    return this.#window;
  }

  /** Accounts bytes that arrived. Throws FLOW_CONTROL if the peer overran the advertised limit (FW-FLOW-2). */
  receive(bytes: number): void {
    const next = this.#received + bytes;
    if (next > this.#limit) {
      throw new FramewireError('FLOW_CONTROL', `${this.#label}: peer sent up to offset ${next}, beyond the granted ${this.#limit}`);
    }
    this.#received = next;
  }

  /**
   * Accounts bytes the application consumed. Returns the new limit to advertise in a CREDIT, or
   * undefined while less than half a window is waiting to be returned (so credits are not sent per frame).
   * `now` and `rttMs` drive auto-tuning; rttMs <= 0 means unknown (no tuning).
   */
  consume(bytes: number, now: number | (() => number), rttMs: number | (() => number)): number | undefined {
    this.#consumed += bytes;
    // `now` and `rttMs` may be functions, read only when needed: consume() runs once per message
    // received and a clock read per message is measurable (bench/e2e, 64-byte messages).
    if (this.#epochStart < 0) {
      this.#epochStart = typeof now === 'number' ? now : now();
      this.#epochConsumedAt = this.#consumed - bytes;
    }
    const unadvertised = this.#consumed + this.#window - this.#limit;
    if (unadvertised < this.#window / 2) return undefined;
    this.#autoTune(typeof now === 'number' ? now : now(), typeof rttMs === 'number' ? rttMs : rttMs());
    this.#limit = this.#consumed + this.#window;
    return this.#limit;
  }

  #autoTune(now: number, rttMs: number): void {
    const inEpoch = this.#consumed - this.#epochConsumedAt;
    const elapsed = now - this.#epochStart;
    if (rttMs > 0 && this.#window < this.#max) {
      // quic-go's rule (the fraction of the window consumed, scaled to a few RTTs) with 2 RTTs
      // rather than quic-go's 4: a CREDIT goes out when half a window was consumed, so a window
      // of 2 RTTs of data keeps the sender busy, and every byte of window beyond that is only
      // queue, which delays other streams' frames on the same connection (bench/e2e, HOL case).
      const fraction = inEpoch / this.#window;
      if (elapsed < AUTO_TUNE_RTTS * fraction * rttMs) this.#window = Math.min(this.#window * 2, this.#max);
    }
    this.#epochStart = now;
    this.#epochConsumedAt = this.#consumed;
  }
}

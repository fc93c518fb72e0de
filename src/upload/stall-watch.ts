/**
 * The uploader's stall detector (spec/UPLOAD.md FW-UP-38): a connection on which the upload made
 * no progress for `timeoutMs` while the uploader waited on it is given up, and the upload resumes
 * on a new one. Progress is the server taking chunk bytes (credit returned, so a write resolved)
 * or answering. Time spent elsewhere — reading a slow source, committing a large object, backing
 * off — is not waiting on the connection and never counts.
 */

import type { Clock, TimerHandle } from '../session/index.ts';

export class StallWatch {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #onStall: () => void;
  #active = 0;
  #last = 0;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(clock: Clock, timeoutMs: number, onStall: () => void) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#onStall = onStall;
  }

  /** Waits on the connection: the time until `work` settles counts, unless progress is reported. */
  async track<T>(work: Promise<T>): Promise<T> {
    if (this.#active++ === 0) {
      this.#last = this.#clock.now();
      this.#arm(this.#timeoutMs);
    }
    try {
      return await work;
    } finally {
      this.touch();
      if (--this.#active === 0) this.#disarm();
    }
  }

  /** The connection moved: bytes taken or an answer received. */
  touch(): void {
    this.#last = this.#clock.now();
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(ms: number): void {
    if (this.#stopped || this.#timeoutMs === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#active === 0 || this.#stopped) return;
      const left = this.#last + this.#timeoutMs - this.#clock.now();
      if (left > 0) {
        this.#arm(left);
        return;
      }
      this.stop();
      this.#onStall();
    }, ms);
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}

/**
 * The built-in sweeper (FW-UP-43): on an unref'd interval it asks the store to delete the data of
 * expired uploads and to forget finished ones after their retention. Expiry itself does not wait
 * for it: stores report an upload past its expiry as expired at once (FW-UP-41).
 */

import type { Logger } from 'pino';
import { Guard } from '../session/index.ts';
import type { UploadStore } from './store.ts';
import { invalidArgument } from '../errors.ts';

export class UploadSweeper {
  readonly #store: UploadStore;
  readonly #intervalMs: number;
  readonly #log: Logger | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  /** A store whose sweep() throws (rather than rejects) is reported as a bug; the sweeper goes on. */
  readonly #guard: Guard;

  constructor(store: UploadStore, intervalMs: number, log?: Logger) {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw invalidArgument(`sweep interval must be positive, got ${intervalMs}`);
    this.#store = store;
    this.#intervalMs = intervalMs;
    this.#log = log;
    this.#guard = new Guard(log, () => undefined);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(
      this.#guard.wrap('upload sweeper', () => {
        void this.runOnce();
      }),
      this.#intervalMs,
    );
    // Never keeps the process alive on its own.
    this.#timer.unref();
  }

  /** One sweep; overlapping calls share the sweep in progress. Never rejects. */
  runOnce(): Promise<number> {
    if (this.#running !== undefined) return this.#running;
    let sweep: Promise<number>;
    try {
      sweep = Promise.resolve(this.#store.sweep());
    } catch (error) {
      this.#guard.fail('upload sweeper: store.sweep()', error);
      return Promise.resolve(0);
    }
    this.#running = sweep
      .then(
        (n) => {
          if (n > 0) this.#log?.debug({ swept: n }, 'upload sweep');
          return n;
        },
        (error: unknown) => {
          this.#log?.warn({ err: error }, 'upload sweep failed');
          return 0;
        },
      )
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Stops the interval and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

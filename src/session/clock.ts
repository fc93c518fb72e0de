/** Time, injected: the session never reads a global clock, so tests drive timeouts deterministically. */

// Imported, not the global: node defines globalThis.performance lazily, so each read of the global
// goes through a getter, several times per event on the event path.
import { performance } from 'node:perf_hooks';

/** A timer made by a `Clock`. */
export interface TimerHandle {
  /** Stops the timer; harmless when it already fired. */
  cancel(): void;
}

/**
 * When deferred work runs, in node's terms: 'tick' = process.nextTick (after the current
 * operation, once the microtasks it queued have run if it was queued from one), 'immediate' =
 * setImmediate (after pending I/O callbacks: a yield to incoming data), 'microtask' = queueMicrotask.
 */
export type DeferPhase = 'tick' | 'immediate' | 'microtask';

/** Time and timers, injected into sessions and services so that tests can run them on a `ManualClock`. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Calls `fn` every `ms` milliseconds. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` without a delay, in `phase`. Absent: node's own functions (see `deferOn`). */
  defer?(fn: () => void, phase: DeferPhase): void;
}

/** Deferral with node's own functions: no delay is time, so every clock may share it. */
export function nodeDefer(fn: () => void, phase: DeferPhase): void {
  switch (phase) {
    case 'tick':
      process.nextTick(fn);
      return;
    case 'immediate':
      setImmediate(fn);
      return;
    case 'microtask':
      queueMicrotask(fn);
      return;
  }
}

/** `clock`'s deferral, or node's when the clock has none. */
export function deferOn(clock: Clock): (fn: () => void, phase: DeferPhase) => void {
  return clock.defer === undefined ? nodeDefer : clock.defer.bind(clock);
}

/** The real clock: performance.now() and node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  defer: nodeDefer,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => { clearTimeout(t); } };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => { clearInterval(t); } };
  },
};

/**
 * The system clock with timers that keep the process alive: for resuming clients, whose only
 * pending work during a reconnect backoff is a timer (with systemClock's unref'd timers a CLI
 * would exit in the middle of a retry).
 */
export const keepAliveClock: Clock = {
  now: () => performance.now(),
  defer: nodeDefer,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => { clearTimeout(t); } };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    return { cancel: () => { clearInterval(t); } };
  },
};

/** A clock that only moves when told to: for tests. Deferred work (no delay) runs as on the system clock. */
export class ManualClock implements Clock {
  #now = 0;
  readonly defer = nodeDefer;
  #timers: { at: number; every: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.#now;
  }

  /** Calls `fn` once when the clock has advanced by `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, 0);
  }

  /** Calls `fn` each time the clock has advanced by another `ms`. */
  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, Math.max(ms, 1));
  }

  /** Advances time, firing due timers in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#now = Math.max(this.#now, due.at);
      if (due.every > 0) due.at += due.every;
      else due.live = false;
      due.fn();
    }
    this.#now = target;
    this.#timers = this.#timers.filter((t) => t.live);
  }

  #add(fn: () => void, ms: number, every: number): TimerHandle {
    const timer = { at: this.#now + Math.max(ms, 0), every, fn, live: true };
    this.#timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }
}

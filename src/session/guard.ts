/**
 * The one guard for deferred work (STYLE.md 11). Timers, socket and stream listeners, promise
 * continuations and calls into user-supplied code (handlers, stores) run through it, so an
 * exception never reaches the event loop, where it would end the process and every other
 * connection with it.
 *
 * What it catches is a programming error (ours or the application's), not a peer's misbehaviour
 * (that is a coded FramewireError, handled where it is thrown). So it is not hidden: it is logged at
 * error level with the connection and stream ids, counted (`internalErrorCount()` and the session's
 * `stats.internalErrors`), handed to every observer registered with `onInternalError` (the test
 * suite fails a test on it), and then turned by the guard's owner into a stream or connection error
 * (INTERNAL on the wire), while the rest of the process goes on.
 */

import type { Logger } from 'pino';
import { deferOn, type Clock, type DeferPhase, type TimerHandle } from './clock.ts';

/** An internal error (a programming error caught by the guard), as `onInternalError` observers receive it. */
export interface InternalErrorReport {
  /** What was thrown. */
  readonly error: unknown;
  /** What was running: "handshake timer", "socket data", "upload sweeper" … */
  readonly where: string;
  /** The connection's id, when the work belonged to one. */
  readonly connection?: string;
  /** The stream's id, when the work belonged to one. */
  readonly stream?: number;
}

/** Receives every internal error of the process; registered with `onInternalError`. */
export type InternalErrorObserver = (report: InternalErrorReport) => void;

const observers = new Set<InternalErrorObserver>();
let reported = 0;

/** Calls `observer` for every internal error in this process; returns the call that stops it. */
export function onInternalError(observer: InternalErrorObserver): () => void {
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

/** Internal errors reported in this process so far. */
export function internalErrorCount(): number {
  return reported;
}

/** Logs, counts and publishes an internal error. Never throws. */
export function reportInternalError(log: Logger | undefined, report: InternalErrorReport): void {
  reported++;
  try {
    log?.error({ err: report.error, where: report.where, ...(report.connection === undefined ? {} : { conn: report.connection }), ...(report.stream === undefined ? {} : { stream: report.stream }) }, 'internal error');
  } catch {
    // A logger that throws must not turn one failure into two.
  }
  for (const observer of observers) {
    try {
      observer(report);
    } catch {
      // An observer's own failure is not the program's.
    }
  }
}

/**
 * The guard of one owner (a session, a service, a sweeper): `recover` turns a caught error into
 * that owner's failure (a stream or connection error). It must not throw; if it does, that is
 * reported too and dropped.
 */
export class Guard {
  readonly #log: Logger | undefined;
  readonly #connection: string | undefined;
  readonly #recover: (error: unknown, where: string, stream: number | undefined) => void;

  constructor(log: Logger | undefined, recover: (error: unknown, where: string, stream: number | undefined) => void, connection?: string) {
    this.#log = log;
    this.#recover = recover;
    this.#connection = connection;
  }

  /** Reports `error` (caught elsewhere, e.g. a rejection) and recovers from it. Never throws. */
  fail(where: string, error: unknown, stream?: number): void {
    reportInternalError(this.#log, { error, where, ...(this.#connection === undefined ? {} : { connection: this.#connection }), ...(stream === undefined ? {} : { stream }) });
    try {
      this.#recover(error, where, stream);
    } catch (second) {
      reportInternalError(this.#log, { error: second, where: `recovering from an error in ${where}`, ...(this.#connection === undefined ? {} : { connection: this.#connection }) });
    }
  }

  /** Runs `fn` now, behind the guard. */
  run(where: string, fn: () => void, stream?: number): void {
    try {
      fn();
    } catch (error) {
      this.fail(where, error, stream);
    }
  }

  /** `fn` wrapped: for timers and listeners. */
  wrap<A extends unknown[]>(where: string, fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        this.fail(where, error);
      }
    };
  }

  /** A promise continuation's rejection handler: `promise.catch(guard.rejected('where'))`. */
  rejected(where: string, stream?: number): (error: unknown) => void {
    return (error: unknown) => {
      this.fail(where, error, stream);
    };
  }

  /** `clock` with every timer it starts behind this guard. */
  clock(clock: Clock, where: string): Clock {
    return {
      now: () => clock.now(),
      setTimeout: (fn: () => void, ms: number): TimerHandle => clock.setTimeout(this.wrap(where, fn), ms),
      setInterval: (fn: () => void, ms: number): TimerHandle => clock.setInterval(this.wrap(where, fn), ms),
      defer: (fn: () => void, phase: DeferPhase): void => {
        deferOn(clock)(this.wrap(where, fn), phase);
      },
    };
  }
}

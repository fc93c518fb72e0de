/**
 * How framewire hands events to the application's listeners (Connection, FramewireServer).
 *
 * 'error' is emitted only when someone listens. An EventEmitter throws an 'error' nobody listens
 * to, which would end the process; yet every failure that becomes an 'error' event is already
 * reported by a promise (`closed`, `ready`, `listen()`, stream outcomes), and a misbehaving peer
 * must cost its connection, never the process. So the events are an addition to the promises,
 * not a second duty: listen for 'error' to be told, or don't. (captureRejections would not help:
 * it concerns listeners that return rejected promises, not a missing listener.)
 *
 * A listener that throws is the application's bug, and it surfaces as Node surfaces one: as an
 * uncaught exception, on the next tick, rather than inside framewire's promise chains or guards.
 */

import type { EventEmitter } from 'node:events';

/** Emits `error` if anyone listens for it; says whether it did. */
export function emitError(emitter: EventEmitter, error: Error): boolean {
  if (emitter.listenerCount('error') === 0) return false;
  emitToApplication(emitter, 'error', error);
  return true;
}

/** Emits an event whose listeners are the application's: an exception they throw is theirs. */
export function emitToApplication(emitter: EventEmitter, event: string, ...args: unknown[]): void {
  try {
    emitter.emit(event, ...args);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

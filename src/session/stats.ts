/** Counters a session keeps for operators: cheap increments on the hot path, read via `session.stats`. */

import type { ErrorCodeName } from '../errors.ts';

/** Counters of one session: frames, bytes, streams, errors and the last round-trip time. */
export class SessionStats {
  framesIn = 0;
  framesOut = 0;
  /** DATA payload bytes as on the wire: a PACKED frame's length fields included (spec §8.2.6). */
  dataBytesIn = 0;
  dataBytesOut = 0;
  /** PACKED DATA frames sent, and the messages they carried (each cost 4 bytes of length, counted in dataBytesOut). */
  packedFramesOut = 0;
  packedMessagesOut = 0;
  /** PACKED DATA frames received. */
  packedFramesIn = 0;
  streamsOpened = 0;
  streamsRefused = 0;
  /** Scheduler turns that ended with data queued but no connection credit. */
  creditStalls = 0;
  rttMs = 0;
  /** Connection-level errors by code (at most one per connection). */
  readonly errors = new Map<ErrorCodeName, number>();
  /** Streams that ended failed or cancelled, by code (local and remote alike). */
  readonly streamErrors = new Map<ErrorCodeName, number>();
  streamsCancelled = 0;
  /** Exceptions the guard caught in this connection's work (guard.ts): each a bug, logged at error level. */
  internalErrors = 0;

  /** Counts an error by code. */
  countError(code: ErrorCodeName): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Counts a stream that failed or was cancelled, by code. */
  countStreamEnd(status: 'failed' | 'cancelled', code: ErrorCodeName): void {
    if (status === 'cancelled') this.streamsCancelled++;
    this.streamErrors.set(code, (this.streamErrors.get(code) ?? 0) + 1);
  }

  /** The counters as a plain object, for logs and reports. */
  toJSON(): Record<string, unknown> {
    return {
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      dataBytesIn: this.dataBytesIn,
      dataBytesOut: this.dataBytesOut,
      packedFramesOut: this.packedFramesOut,
      packedMessagesOut: this.packedMessagesOut,
      packedFramesIn: this.packedFramesIn,
      streamsOpened: this.streamsOpened,
      streamsRefused: this.streamsRefused,
      creditStalls: this.creditStalls,
      rttMs: this.rttMs,
      streamsCancelled: this.streamsCancelled,
      internalErrors: this.internalErrors,
      errors: Object.fromEntries(this.errors),
      streamErrors: Object.fromEntries(this.streamErrors),
    };
  }
}

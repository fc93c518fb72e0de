/**
 * What a failure of the QUIC library means for framewire (spec FW-QUIC-9). The binding reports
 * quinn's errors as plain Errors whose message is quinn's Display text, so the class of failure is
 * read from it: a stream the peer reset or stopped is a stream-level event; a lost or closed
 * connection is CONNECTION_LOST; anything else (an exception thrown by the binding, an error we do
 * not recognise) is INTERNAL. Each becomes a coded connection error: never a crash.
 */

import { FramewireError } from '../../errors.ts';

export interface QuicFailure {
  readonly error: FramewireError;
  /** RESET_STREAM or STOP_SENDING from the peer: the connection itself is still alive. */
  readonly streamOnly: boolean;
}

// quinn 0.11: ReadError::Reset "stream reset by peer: error N", WriteError::Stopped "sending stopped by peer: error N",
// ConnectionError "connection lost", "timed out", "closed by peer: …", "aborted by peer: …", "closed", "reset by peer".
const STREAM_ONLY = /stream reset by peer|sending stopped by peer/i;
const CONNECTION_GONE = /connection lost|timed out|closed by peer|aborted by peer|^reset by peer|^closed$|transport error|server closed/i;

export function classifyQuicFailure(error: unknown, operation: string, streamId: number): QuicFailure {
  const message = error instanceof Error ? error.message : String(error);
  const where = streamId === 0 ? 'the control stream' : `the QUIC stream of stream ${streamId}`;
  if (STREAM_ONLY.test(message)) {
    const what = /stopped/iu.test(message) ? 'stopped (STOP_SENDING)' : 'reset (RESET_STREAM)';
    return {
      streamOnly: true,
      error: new FramewireError('PROTOCOL_ERROR', `QUIC: the peer ${what} ${where} before its framewire stream ended (${message})`, { cause: error }),
    };
  }
  if (CONNECTION_GONE.test(message)) {
    return { streamOnly: false, error: new FramewireError('CONNECTION_LOST', `QUIC: ${operation} on ${where} failed: ${message}`, { cause: error }) };
  }
  return { streamOnly: false, error: new FramewireError('INTERNAL', `QUIC library failure: ${operation} on ${where}: ${message}`, { cause: error }) };
}

/** Calls into the library so that a synchronous throw becomes a rejection (one way for errors to arrive). */
export function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Resolves with the library call's outcome, or with 'timeout' after `ms`: a close that hangs must not hang us. */
export function bounded(call: () => Promise<unknown>, ms: number): Promise<'done' | 'timeout' | 'failed'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve('timeout');
    }, ms);
    timer.unref();
    guarded(call).then(
      () => {
        clearTimeout(timer);
        resolve('done');
      },
      () => {
        clearTimeout(timer);
        resolve('failed');
      },
    );
  });
}

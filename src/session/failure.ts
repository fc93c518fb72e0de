/**
 * What a failed operation's error says about what to do next: one policy for every client that
 * resumes by itself, the uploader and the event subscriber (spec/PROTOCOL.md §9, FW-ERR-4).
 *
 * The question is not "is this code retryable" but "what failed": the connection, or the
 * operation. A connection that failed — closed, timed out, or ended by a connection error such as
 * FRAME_SIZE, BAD_CRC, PROTOCOL_ERROR or TRUNCATED after one flipped bit — says nothing about the
 * upload or the event stream it carried: the client resumes on a new connection, within its
 * bounded retries. Only an error on a stream of a live connection speaks about the operation.
 */

import { ErrorCodes, type ErrorCodeName, type FramewireError } from '../errors.ts';

/**
 * - `connection`: the connection is unusable; resume on a new one.
 * - `refused`: the operation was refused before any processing (REFUSED_STREAM, LIMIT_EXCEEDED);
 *   send it again, after `retry_after_ms` when given.
 * - `transient`: the operation failed on a live connection, and its code says repeating it may
 *   succeed (INTERNAL, TIMEOUT, CHUNK_CHECKSUM …); the profile decides whether it does.
 * - `final`: about the operation itself (or credentials every new connection would present again).
 */
export type FailureClass = 'connection' | 'refused' | 'transient' | 'final';

/** A new connection would meet the same answer: resuming cannot help. */
const DEAD_ENDS: ReadonlySet<ErrorCodeName> = new Set(['AUTH_FAILED', 'UNSUPPORTED_VERSION', 'NOT_FRAMEWIRE']);

/**
 * Classifies `error`, which ended an operation (or a connect attempt). `connectionUsable` is
 * whether the connection that carried the operation is still open and not going away; false for
 * an error from a connect attempt.
 */
export function classifyFailure(error: FramewireError, connectionUsable: boolean): FailureClass {
  if (DEAD_ENDS.has(error.code)) return 'final';
  if (!connectionUsable || ErrorCodes[error.code].scope === 'connection') return 'connection';
  if (error.code === 'REFUSED_STREAM' || error.code === 'LIMIT_EXCEEDED') return 'refused';
  return error.retryable ? 'transient' : 'final';
}

/**
 * The error-code registry (spec/PROTOCOL.md §9) and the one error class every layer throws.
 *
 * Codes are stable wire numbers. Each knows its scope (does it end the connection or one stream?
 * `classifyFailure` in session/failure.ts reads it) and whether retrying the same operation may
 * succeed. Declared once, `as const`; the names are what logs and tests use, the numbers are what
 * travels in ERROR, CANCEL and GOAWAY payloads. The table is the spec's one registry (§9), the
 * upload (0x100..) and event (0x200..) ranges included, on purpose: every layer down to the session
 * names whatever code a peer sends, whichever profile it belongs to. What a profile's code means
 * is in that profile (spec/UPLOAD.md, spec/EVENTS.md and src/upload, src/events), not here.
 */

export type ErrorScope = 'connection' | 'stream' | 'either';

interface CodeInfo {
  readonly code: number;
  readonly scope: ErrorScope;
  readonly retryable: boolean;
  readonly summary: string;
}

/**
 * The registered error codes (spec/PROTOCOL.md §9): for each name, its wire code, whether the same
 * operation may be retried, and where it may appear.
 */
export const ErrorCodes = {
  NO_ERROR: { code: 0x00, scope: 'either', retryable: false, summary: 'graceful end, no error' },
  PROTOCOL_ERROR: { code: 0x01, scope: 'either', retryable: false, summary: 'generic violation of the protocol' },
  FRAME_SIZE: { code: 0x02, scope: 'connection', retryable: false, summary: 'frame length over the negotiated maximum or a fixed-size payload of the wrong size' },
  BAD_CRC: { code: 0x03, scope: 'connection', retryable: true, summary: 'CRC-32 of a frame does not match' },
  RESERVED_BITS: { code: 0x04, scope: 'connection', retryable: false, summary: 'reserved header bytes are not zero' },
  WRONG_STREAM_KIND: { code: 0x05, scope: 'connection', retryable: false, summary: 'frame type not allowed on stream 0 or on a stream' },
  MALFORMED_PAYLOAD: { code: 0x06, scope: 'either', retryable: false, summary: 'control payload is not the documented MessagePack map' },
  UNSUPPORTED_VERSION: { code: 0x07, scope: 'connection', retryable: false, summary: 'no protocol version in common' },
  HANDSHAKE: { code: 0x08, scope: 'connection', retryable: false, summary: 'HELLO missing, repeated, late or invalid' },
  AUTH_FAILED: { code: 0x09, scope: 'connection', retryable: false, summary: 'the peer refused the credentials' },
  FLOW_CONTROL: { code: 0x0a, scope: 'either', retryable: false, summary: 'sent beyond the granted credit, or credit overflow' },
  SEQ_ERROR: { code: 0x0b, scope: 'connection', retryable: false, summary: 'gap or repeat in frame sequence numbers' },
  STREAM_ID: { code: 0x0c, scope: 'connection', retryable: false, summary: 'stream id of the wrong parity, reused or not increasing' },
  STREAM_CLOSED: { code: 0x0d, scope: 'stream', retryable: false, summary: 'frame for a stream direction that already ended' },
  REFUSED_STREAM: { code: 0x0e, scope: 'stream', retryable: true, summary: 'stream refused before any processing (limit or GOAWAY): safe to retry' },
  CANCELLED: { code: 0x0f, scope: 'stream', retryable: false, summary: 'the stream was cancelled' },
  IDLE_TIMEOUT: { code: 0x10, scope: 'connection', retryable: true, summary: 'no frame from the peer within the idle timeout' },
  CONNECTION_LOST: { code: 0x11, scope: 'connection', retryable: true, summary: 'the transport closed before the stream ended' },
  INTERNAL: { code: 0x12, scope: 'either', retryable: true, summary: 'an internal failure of the sender' },
  ENHANCE_YOUR_CALM: { code: 0x13, scope: 'connection', retryable: false, summary: 'the peer exceeded a rate limit (reset or ping flood)' },
  MESSAGE_TOO_LARGE: { code: 0x14, scope: 'stream', retryable: false, summary: 'a message is larger than the receiver accepts' },
  TIMEOUT: { code: 0x15, scope: 'either', retryable: true, summary: 'an operation did not finish within its deadline' },
  NOT_FOUND: { code: 0x16, scope: 'stream', retryable: false, summary: 'the OPEN kind or target is unknown' },
  LIMIT_EXCEEDED: { code: 0x17, scope: 'either', retryable: true, summary: 'a configured limit was reached; retry later (see retry_after_ms)' },
  FORBIDDEN: { code: 0x18, scope: 'stream', retryable: false, summary: 'the principal may not perform this operation' },
  CLOSED: { code: 0x19, scope: 'either', retryable: false, summary: 'the local endpoint was closed by the application' },
  TRUNCATED: { code: 0x1a, scope: 'connection', retryable: true, summary: 'the byte stream ended inside a frame' },
  INVALID_ARGUMENT: { code: 0x1b, scope: 'either', retryable: false, summary: 'the application passed an argument the API cannot send (wrong type, not encodable, out of range)' },
  CONNECTION_REFUSED: { code: 0x1c, scope: 'connection', retryable: true, summary: 'nothing accepts connections at the address (ECONNREFUSED)' },
  NOT_FRAMEWIRE: { code: 0x1d, scope: 'connection', retryable: false, summary: 'the peer is not a framewire endpoint: its first bytes cannot begin a frame' },

  // Upload profile (§11).
  UPLOAD_NOT_FOUND: { code: 0x100, scope: 'stream', retryable: false, summary: 'no upload session with that id' },
  CHUNK_CONFLICT: { code: 0x101, scope: 'stream', retryable: false, summary: 'the chunk index is stored with a different checksum' },
  CHUNK_CHECKSUM: { code: 0x102, scope: 'stream', retryable: true, summary: 'the chunk bytes do not match their checksum' },
  DIGEST_MISMATCH: { code: 0x103, scope: 'stream', retryable: false, summary: 'the assembled object does not match its SHA-256' },
  INCOMPLETE: { code: 0x104, scope: 'stream', retryable: false, summary: 'commit asked before every chunk is stored' },
  EXPIRED: { code: 0x105, scope: 'stream', retryable: false, summary: 'the upload session expired and its data was deleted' },
  LEASE_CONFLICT: { code: 0x106, scope: 'stream', retryable: true, summary: 'another writer holds the upload lease' },
  BAD_RANGE: { code: 0x107, scope: 'stream', retryable: false, summary: 'chunk index or byte range outside the declared object, or a read past its end' },
  ABORTED: { code: 0x108, scope: 'stream', retryable: false, summary: 'the upload was aborted' },
  IDEMPOTENCY_CONFLICT: { code: 0x109, scope: 'stream', retryable: false, summary: 'an upload with this idempotency key exists with other parameters' },
  ALREADY_COMMITTED: { code: 0x10a, scope: 'stream', retryable: false, summary: 'abort refused: the upload was committed first, its object stays' },

  // Event-stream profile (§12).
  RESUME_GAP: { code: 0x200, scope: 'stream', retryable: false, summary: 'the requested event id is no longer retained' },
  NOT_RESUMABLE: { code: 0x201, scope: 'stream', retryable: false, summary: 'the event stream cannot be resumed' },
  PRODUCER_FAILED: { code: 0x202, scope: 'stream', retryable: true, summary: 'the event producer failed' },
} as const satisfies Record<string, CodeInfo>;

/** The name of a registered error code, e.g. `FLOW_CONTROL` or `UPLOAD_NOT_FOUND`. */
export type ErrorCodeName = keyof typeof ErrorCodes;

/**
 * Codes that describe what one endpoint observed or did wrong itself, never sent on the wire
 * (spec §9, FW-ERR-2): a failure with one of them goes to the peer as INTERNAL.
 */
const LOCAL_ONLY: ReadonlySet<ErrorCodeName> = new Set(['CONNECTION_LOST', 'TRUNCATED', 'INVALID_ARGUMENT']);

export function isLocalOnly(code: ErrorCodeName): boolean {
  return LOCAL_ONLY.has(code);
}

const byNumber = new Map<number, ErrorCodeName>(
  (Object.keys(ErrorCodes) as ErrorCodeName[]).map((name) => [ErrorCodes[name].code, name]),
);

/** The registered name of a wire code, or undefined for a code this version does not know. */
export function errorCodeName(code: number): ErrorCodeName | undefined {
  return byNumber.get(code);
}

const BRAND: unique symbol = Symbol.for('framewire.error');

/** What a `FramewireError` carries besides its code and message. */
export interface FramewireErrorOptions {
  /** True when the error was reported by the peer (received in an ERROR, CANCEL or GOAWAY frame). */
  readonly remote?: boolean;
  /** Overrides the registry's default: may the same operation be retried? */
  readonly retryable?: boolean;
  /** A hint from the peer (LIMIT_EXCEEDED): wait this long before retrying. */
  readonly retryAfterMs?: number;
  readonly streamId?: number;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/**
 * The only error class framewire throws for protocol and application failures.
 * Recognise it with `isFramewireError` (a brand check that survives duplicate module copies),
 * never by looking for a `code` property: a loose guard would turn every error into a protocol error.
 */
export class FramewireError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCodeName;
  readonly wireCode: number;
  readonly remote: boolean;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly streamId: number | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCodeName, message: string, options: FramewireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FramewireError';
    this.code = code;
    this.wireCode = ErrorCodes[code].code;
    this.remote = options.remote ?? false;
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.streamId = options.streamId;
    this.details = options.details;
  }

  /** Builds the error a peer reported, keeping unknown codes visible rather than guessing. */
  static fromWire(wireCode: number, message: string, options: Omit<FramewireErrorOptions, 'remote'> = {}): FramewireError {
    const name = errorCodeName(wireCode);
    if (name === undefined) {
      return new FramewireError('PROTOCOL_ERROR', `peer error with unregistered code 0x${wireCode.toString(16)}: ${message}`, {
        ...options,
        remote: true,
        details: { ...options.details, unknownCode: wireCode },
      });
    }
    return new FramewireError(name, message, { ...options, remote: true });
  }
}

/**
 * The error for an argument or option the API cannot work with (wrong type, out of range,
 * contradictory): a coded INVALID_ARGUMENT, never a bare RangeError or TypeError, so that a caller
 * tells misuse from failure by its code. Local only: it never travels (FW-ERR-2).
 */
export function invalidArgument(message: string, options?: FramewireErrorOptions): FramewireError {
  return new FramewireError('INVALID_ARGUMENT', message, options);
}

/**
 * An operation the application aborted through an `AbortSignal`: rejected the way Node's own APIs
 * reject (timers/promises, `events.once`, `stream.pipeline`, `fetch`): `name` is `'AbortError'` and
 * `cause` is the signal's `reason`. It is also a `FramewireError` with code `CANCELLED`, so
 * `isFramewireError(err)` and `err.code === 'CANCELLED'` keep working; as with undici's
 * `RequestAbortedError`, `code` is the library's own (Node's AbortError has `'ABORT_ERR'`).
 * Test for an abort with `err.name === 'AbortError'`, the check that also matches Node's and the
 * DOM's abort errors.
 */
export class AbortError extends FramewireError {
  constructor(message: string, signal: AbortSignal, options: Omit<FramewireErrorOptions, 'cause' | 'remote'> = {}) {
    super('CANCELLED', message, { ...options, cause: signal.reason });
    this.name = 'AbortError';
  }
}

/** The `AbortError` an operation rejects with when `signal` has fired, else undefined. */
export function abortedBy(signal: AbortSignal | undefined, message: string): AbortError | undefined {
  return signal?.aborted === true ? new AbortError(message, signal) : undefined;
}

/** True for a `FramewireError`, by a brand that survives duplicate copies of the package. */
export function isFramewireError(value: unknown): value is FramewireError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** Converts anything thrown by application code into the coded error sent on the wire. */
export function toFramewireError(error: unknown, fallback: ErrorCodeName = 'INTERNAL'): FramewireError {
  if (isFramewireError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FramewireError(fallback, message, { cause: error });
}

/**
 * Control payloads built from application arguments are encoded and size-checked where the
 * application hands them over (open(), end(), fail(), cancel(), close(), goaway()), never later in
 * the pump, where an exception would have nobody to go to (STYLE.md 11, spec §9 INVALID_ARGUMENT).
 * Every frame we send must also fit the peer's current payload limit (FW-FRAME-3): a payload that
 * cannot is MESSAGE_TOO_LARGE at the call site, except the free-text parts of ERROR, CANCEL and
 * GOAWAY, which are shortened instead, so that a failure can always be reported.
 */

import { ErrorCodes, FramewireError, isLocalOnly, type ErrorCodeName } from '../errors.ts';
import { encodeCancelPayload, encodeErrorPayload, encodeGoawayPayload, MIN_MAX_PAYLOAD, type ControlMap } from '../wire/index.ts';
import { withOptional } from './optional.ts';

/** Encodes `value` (application data) or fails with INVALID_ARGUMENT naming `what`. */
export function encodeArgument(what: string, encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (cause) {
    throw new FramewireError('INVALID_ARGUMENT', `${what} cannot be encoded as MessagePack: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Throws MESSAGE_TOO_LARGE when `payload` exceeds `limit`, the peer's current payload limit. */
export function checkFits(what: string, payload: Uint8Array, limit: number): void {
  if (payload.length > limit) {
    throw new FramewireError('MESSAGE_TOO_LARGE', `${what} is ${payload.length} bytes; the peer accepts frame payloads of at most ${limit} (max_frame_payload)`, {
      details: { size: payload.length, limit },
    });
  }
}

/** Throws INVALID_ARGUMENT unless `value` is a string of `min`..`max` characters. */
export function checkString(what: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new FramewireError('INVALID_ARGUMENT', `${what} must be a string of ${min}..${max} characters`);
  }
}

/** Throws INVALID_ARGUMENT unless `code` is a registered code name. */
export function checkCode(code: unknown): asserts code is ErrorCodeName {
  if (typeof code !== 'string' || !Object.hasOwn(ErrorCodes, code)) throw new FramewireError('INVALID_ARGUMENT', `${String(code)} is not a registered error code`);
}

/**
 * The ERROR payload for `error`: `retryable` travels only when it overrides the registry's value
 * (FW-ERROR-2); a local-only code goes out as INTERNAL (FW-ERR-2); a retry hint that is not an
 * unsigned integer is left out.
 */
export function errorPayload(error: FramewireError): { code: number; message: string; retryable?: boolean; retryAfterMs?: number; details?: ControlMap } {
  const code: ErrorCodeName = isLocalOnly(error.code) ? 'INTERNAL' : error.code;
  const retryable = error.retryable === ErrorCodes[code].retryable ? undefined : error.retryable;
  const retryAfterMs = isUint(error.retryAfterMs) ? error.retryAfterMs : undefined;
  return withOptional({ code: ErrorCodes[code].code, message: asText(error.message), retryable, retryAfterMs, details: error.details });
}

export function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A plain object (what MessagePack encodes as a map), as opposed to an array, a class instance or null. */
export function isPlainMap(v: unknown): v is ControlMap {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Text from a value typed as a string: JavaScript callers may pass anything, and a non-string would be MALFORMED_PAYLOAD at the peer. */
export function asText(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/**
 * The ERROR payload of a stream failure the application asked for (stream.fail): the message is
 * shortened to fit `limit`; details that cannot be encoded are INVALID_ARGUMENT, details too large
 * to fit with an empty message are MESSAGE_TOO_LARGE.
 */
export function streamErrorPayload(error: FramewireError, limit: number): Uint8Array {
  const p = errorPayload(error);
  const full = encodeArgument('the error details', () => encodeErrorPayload(p));
  if (full.length <= limit) return full;
  const bare = encodeErrorPayload({ ...p, message: '' });
  checkFits('the ERROR payload without its message', bare, limit);
  return encodeErrorPayload({ ...p, message: shorten(p.message, limit - bare.length) });
}

/**
 * An ERROR payload for `error` that always encodes and fits `limit` (at least MIN_MAX_PAYLOAD): for
 * failures the session itself reports, which must reach the peer. Details that cannot be encoded or
 * do not fit are dropped; the message is shortened.
 */
export function safeErrorPayload(error: FramewireError, limit: number): Uint8Array {
  const p = errorPayload(error);
  try {
    const full = encodeErrorPayload(p);
    if (full.length <= limit) return full;
  } catch {
    // Unencodable details: sent without them.
  }
  const { details: _dropped, ...rest } = p;
  const room = Math.max(limit, MIN_MAX_PAYLOAD) - encodeErrorPayload({ ...rest, message: '' }).length;
  return encodeErrorPayload({ ...rest, message: shorten(rest.message, room) });
}

/** A CANCEL payload whose reason is shortened to fit `limit`. */
export function cancelPayload(reason: string | undefined, limit: number): Uint8Array {
  if (reason === undefined) return encodeCancelPayload({});
  const text = asText(reason);
  const full = encodeCancelPayload({ reason: text });
  if (full.length <= limit) return full;
  return encodeCancelPayload({ reason: shorten(text, limit - encodeCancelPayload({ reason: '' }).length) });
}

/** A GOAWAY payload whose message is shortened to fit `limit`. */
export function goawayPayload(lastStream: number, error: FramewireError, deadlineMs: number, limit: number): Uint8Array {
  const p = { lastStream, code: error.wireCode, message: error.message, deadlineMs };
  const full = encodeGoawayPayload(p);
  if (full.length <= limit) return full;
  return encodeGoawayPayload({ ...p, message: shorten(p.message, limit - encodeGoawayPayload({ ...p, message: '' }).length) });
}

const ELLIPSIS = '…';

/** `text` cut so that its UTF-8 encoding, plus the MessagePack string header, fits `room` bytes. */
function shorten(text: string, room: number): string {
  // A str32 header is 5 bytes; an ellipsis is 3 bytes of UTF-8.
  const budget = room - 5 - 3;
  if (budget <= 0) return '';
  if (Buffer.byteLength(text, 'utf8') <= room - 5) return text;
  let cut = Buffer.from(text, 'utf8').subarray(0, budget).toString('utf8');
  // A code point cut in half decodes as U+FFFD (3 bytes): drop it so the budget holds.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

/** ERROR (0x07): a failure with a registered code; on stream 0 the connection is closing (spec/PROTOCOL.md §7.7). */

import { decodeControl, encodeControl, read, type ControlMap } from '../msgpack.ts';

/** The payload of ERROR. */
export interface ErrorPayload {
  /** A registered error code (src/errors.ts, spec §9). */
  readonly code: number;
  readonly message: string;
  /** Overrides the registry's retryable flag for this occurrence. */
  readonly retryable?: boolean;
  /** For LIMIT_EXCEEDED and the like: how long the peer should wait before trying again. */
  readonly retryAfterMs?: number;
  readonly details?: ControlMap;
}

const E = 'ERROR';

export function encodeErrorPayload(p: ErrorPayload): Uint8Array {
  return encodeControl({ code: p.code, message: p.message, retryable: p.retryable, retry_after_ms: p.retryAfterMs, details: p.details });
}

export function decodeErrorPayload(payload: Uint8Array): ErrorPayload {
  const map = decodeControl(E, payload);
  const code = read.required(E, 'code', read.uint(E, map, 'code', 0xffff_ffff));
  const message = read.str(E, map, 'message') ?? '';
  const retryable = read.bool(E, map, 'retryable');
  const retryAfterMs = read.uint(E, map, 'retry_after_ms');
  const details = read.map(E, map, 'details');
  return {
    code,
    message,
    ...(retryable === undefined ? {} : { retryable }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(details === undefined ? {} : { details }),
  };
}

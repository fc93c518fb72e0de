/** CANCEL (0x08), on a stream: the sender no longer wants the stream; empty or a map (spec/PROTOCOL.md §7.8). */

import { decodeControl, encodeControl, read } from '../msgpack.ts';

const EMPTY = new Uint8Array(0);

/** The payload of CANCEL. */
export interface CancelPayload {
  /** Why, as a registered code; CANCELLED when absent. */
  readonly code?: number;
  readonly reason?: string;
}

const C = 'CANCEL';

export function encodeCancelPayload(p: CancelPayload): Uint8Array {
  return p.code === undefined && p.reason === undefined ? EMPTY : encodeControl({ code: p.code, reason: p.reason });
}

export function decodeCancelPayload(payload: Uint8Array): CancelPayload {
  if (payload.length === 0) return {};
  const map = decodeControl(C, payload);
  const code = read.uint(C, map, 'code', 0xffff_ffff);
  const reason = read.str(C, map, 'reason');
  return { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
}

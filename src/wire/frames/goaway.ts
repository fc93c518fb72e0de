/** GOAWAY (0x0A), stream 0 only: graceful shutdown (spec/PROTOCOL.md §7.10). */

import { decodeControl, encodeControl, read } from '../msgpack.ts';

/** The payload of GOAWAY. */
export interface GoawayPayload {
  /** The highest stream id opened by the receiver of GOAWAY that the sender accepted or will process. */
  readonly lastStream: number;
  /** NO_ERROR for a graceful shutdown, otherwise why the connection ends. */
  readonly code: number;
  readonly message?: string;
  /** How long in-flight streams have before the sender closes the connection. */
  readonly deadlineMs?: number;
}

const G = 'GOAWAY';

export function encodeGoawayPayload(p: GoawayPayload): Uint8Array {
  return encodeControl({ last_stream: p.lastStream, code: p.code, message: p.message, deadline_ms: p.deadlineMs });
}

export function decodeGoawayPayload(payload: Uint8Array): GoawayPayload {
  const map = decodeControl(G, payload);
  const lastStream = read.required(G, 'last_stream', read.uint(G, map, 'last_stream', 0xffff_ffff));
  const code = read.required(G, 'code', read.uint(G, map, 'code', 0xffff_ffff));
  const message = read.str(G, map, 'message');
  const deadlineMs = read.uint(G, map, 'deadline_ms');
  return {
    lastStream,
    code,
    ...(message === undefined ? {} : { message }),
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
  };
}

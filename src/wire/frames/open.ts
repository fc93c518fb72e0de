/** OPEN (0x02), on a stream: opens it and carries its metadata (spec/PROTOCOL.md §7.2). */

import { decodeControl, encodeControl, read, type ControlMap } from '../msgpack.ts';

export const MAX_URGENCY = 7;
export const DEFAULT_URGENCY = 3;

/** The payload of OPEN. */
export interface OpenPayload {
  /** What the stream is for: a profile ("upload.chunk", "events.subscribe") or an application name. */
  readonly kind: string;
  /** The resource the stream addresses (an upload id, an event stream name …). */
  readonly target?: string;
  /** Application metadata, opaque to the session layer. */
  readonly meta?: ControlMap;
  /** 0 (most urgent) .. 7; data of more urgent streams is sent first (FW-SCHED-3). */
  readonly urgency?: number;
}

const F = 'OPEN';

export function encodeOpenPayload(p: OpenPayload): Uint8Array {
  return encodeControl({ kind: p.kind, target: p.target, meta: p.meta, urgency: p.urgency });
}

export function decodeOpenPayload(payload: Uint8Array): OpenPayload {
  const map = decodeControl(F, payload);
  const kind = read.required(F, 'kind', read.str(F, map, 'kind', 128));
  const target = read.str(F, map, 'target', 4096);
  const meta = read.map(F, map, 'meta');
  const urgency = read.uint(F, map, 'urgency', MAX_URGENCY);
  return {
    kind,
    ...(target === undefined ? {} : { target }),
    ...(meta === undefined ? {} : { meta }),
    ...(urgency === undefined ? {} : { urgency }),
  };
}

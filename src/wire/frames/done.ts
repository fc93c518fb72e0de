/** DONE (0x06), on a stream: the sender's direction ended successfully; optional trailer (spec/PROTOCOL.md §7.6). */

import { decodeControl, encodeControl, type ControlMap } from '../msgpack.ts';

const EMPTY = new Uint8Array(0);

/** The payload of DONE. */
export interface DonePayload {
  /** Optional trailer: application key/values known only at the end (a digest, a summary). */
  readonly trailer?: ControlMap;
}

export function encodeDonePayload(p: DonePayload): Uint8Array {
  return p.trailer === undefined ? EMPTY : encodeControl(p.trailer);
}

export function decodeDonePayload(payload: Uint8Array): DonePayload {
  return payload.length === 0 ? {} : { trailer: decodeControl('DONE', payload) };
}

/** CREDIT (0x04), stream 0 or a stream: u64 absolute offset, big-endian (spec/PROTOCOL.md §7.4, FW-FRAME-8). */

import { FramewireError } from '../../errors.ts';
import { readU32 } from '../header.ts';
import { MAX_CREDIT_OFFSET } from '../limits.ts';

export const CREDIT_PAYLOAD_SIZE = 8;

/** The absolute DATA byte offset up to which the peer may send: a limit, not an increment. */
export function encodeCreditPayload(offset: number): Uint8Array {
  const out = Buffer.allocUnsafe(CREDIT_PAYLOAD_SIZE);
  out.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 0);
  out.writeUInt32BE(offset >>> 0, 4);
  return out;
}

export function decodeCreditPayload(payload: Uint8Array): number {
  if (payload.length !== CREDIT_PAYLOAD_SIZE) {
    throw new FramewireError('FRAME_SIZE', `CREDIT payload must be exactly ${CREDIT_PAYLOAD_SIZE} bytes, got ${payload.length}`);
  }
  const offset = readU32(payload, 0) * 0x1_0000_0000 + readU32(payload, 4);
  if (offset > MAX_CREDIT_OFFSET) throw new FramewireError('FLOW_CONTROL', `CREDIT offset ${offset} exceeds 2^53-1`);
  return offset;
}

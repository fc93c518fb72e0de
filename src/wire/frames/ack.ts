/** ACK (0x05), on a stream: u32 seq, big-endian (spec/PROTOCOL.md §7.5, FW-FRAME-8). */

import { FramewireError } from '../../errors.ts';
import { readU32 } from '../header.ts';

export const ACK_PAYLOAD_SIZE = 4;

/** Every frame the receiver got on this stream up to and including this seq was processed. */
export function encodeAckPayload(seq: number): Uint8Array {
  const out = Buffer.allocUnsafe(ACK_PAYLOAD_SIZE);
  out.writeUInt32BE(seq >>> 0, 0);
  return out;
}

export function decodeAckPayload(payload: Uint8Array): number {
  if (payload.length !== ACK_PAYLOAD_SIZE) {
    throw new FramewireError('FRAME_SIZE', `ACK payload must be exactly ${ACK_PAYLOAD_SIZE} bytes, got ${payload.length}`);
  }
  return readU32(payload, 0);
}

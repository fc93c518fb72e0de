/** PING (0x09), stream 0 only: 8 opaque bytes, echoed with the ACK flag (spec/PROTOCOL.md §7.9). */

import { FramewireError } from '../../errors.ts';

export const PING_PAYLOAD_SIZE = 8;

export function decodePingPayload(payload: Uint8Array): Uint8Array {
  if (payload.length !== PING_PAYLOAD_SIZE) {
    throw new FramewireError('FRAME_SIZE', `PING payload must be exactly ${PING_PAYLOAD_SIZE} bytes, got ${payload.length}`);
  }
  return payload;
}

/**
 * The 20-byte frame header (ARCHITECTURE.md, spec/PROTOCOL.md §3): field offsets and the two
 * primitives everything else builds on, writing a header with its CRC and reading the fields.
 */

import { crc32, crc32Range } from './crc32.ts';
import { CRC_COVERED_HEADER, HEADER_SIZE } from './limits.ts';

export const HeaderOffset = {
  length: 0,
  type: 4,
  flags: 5,
  reserved: 6,
  stream: 8,
  seq: 12,
  crc: 16,
} as const;

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * Writes a complete header for `payload` at `out[at]`, CRC included. The payload is not copied:
 * the CRC runs over it where it lies, so header and payload can go to the socket as two buffers.
 */
export function writeHeader(out: Uint8Array, at: number, type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
  writeU32(out, at, payload.length);
  out[at + 4] = type;
  out[at + 5] = flags;
  out[at + 6] = 0;
  out[at + 7] = 0;
  writeU32(out, at + 8, stream);
  writeU32(out, at + 12, seq);
  const head = crc32Range(out, at, at + CRC_COVERED_HEADER);
  writeU32(out, at + 16, payload.length === 0 ? head : crc32(payload, head));
}

export function encodeHeader(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(out, 0, type, flags, stream, seq, payload);
  return out;
}

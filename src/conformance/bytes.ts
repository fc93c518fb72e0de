/**
 * Frame bytes built by hand from the header table (spec §3.1), so the runner can write any
 * header — a wrong CRC, non-zero reserved bytes, a length that does not match the payload —
 * that the codec in src/wire (rightly) refuses to produce.
 */

import { crc32, HEADER_SIZE } from '../wire/index.ts';

export interface FrameParts {
  readonly type: number;
  readonly flags?: number;
  readonly stream: number;
  readonly seq: number;
  readonly payload?: Uint8Array;
  /** Written at bytes 6..7 (must be 0 in version 1). */
  readonly reserved?: number;
  /** The length field, when it should lie about the payload (default: the payload's length). */
  readonly length?: number;
  /** Flip one bit of the CRC after computing it. */
  readonly badCrc?: boolean;
}

/** CRC-32 over header bytes 0..15 then the payload (FW-FRAME-2). */
export function frameCrc(header: Uint8Array, payload: Uint8Array): number {
  const head = crc32(header.subarray(0, 16));
  return payload.length === 0 ? head : crc32(payload, head);
}

export function buildFrame(parts: FrameParts): Buffer {
  const payload = parts.payload ?? new Uint8Array(0);
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  out.writeUInt32BE((parts.length ?? payload.length) >>> 0, 0);
  out[4] = parts.type;
  out[5] = parts.flags ?? 0;
  out.writeUInt16BE(parts.reserved ?? 0, 6);
  out.writeUInt32BE(parts.stream >>> 0, 8);
  out.writeUInt32BE(parts.seq >>> 0, 12);
  out.set(payload, HEADER_SIZE);
  let crc = frameCrc(out, payload);
  if (parts.badCrc === true) crc = (crc ^ 0x8000_0000) >>> 0;
  out.writeUInt32BE(crc, 16);
  return out;
}

/** Only the header, announcing `length` payload bytes that are never sent (for FW-FRAME-3). */
export function headerOnly(type: number, stream: number, seq: number, length: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt32BE(length >>> 0, 0);
  out[4] = type;
  out.writeUInt32BE(stream >>> 0, 8);
  out.writeUInt32BE(seq >>> 0, 12);
  // The CRC cannot be checked before the payload arrives; any value will do.
  return out;
}

/** A copy of a complete frame with its stream id and/or seq replaced and its CRC recomputed. */
export function resign(frame: Uint8Array, change: { stream?: number; seq?: number }): Buffer {
  const out = Buffer.from(frame);
  if (change.stream !== undefined) out.writeUInt32BE(change.stream >>> 0, 8);
  if (change.seq !== undefined) out.writeUInt32BE(change.seq >>> 0, 12);
  const length = out.readUInt32BE(0);
  out.writeUInt32BE(frameCrc(out, out.subarray(HEADER_SIZE, HEADER_SIZE + length)), 16);
  return out;
}

export function fromHex(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

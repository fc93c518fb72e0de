/**
 * A slow, obviously-correct reference decoder (STYLE.md item 8), written straight from the
 * header table of ARCHITECTURE.md with node's zlib.crc32 and nothing from src/wire: the whole
 * byte stream in, the list of frames (or the first error code) out. It checks, per frame and in
 * the order of spec §3.3: length, CRC, reserved bytes, then type and placement.
 */

import { crc32 } from 'node:zlib';

export interface RefFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly payload: Buffer;
}

export type RefError = 'TRUNCATED' | 'FRAME_SIZE' | 'BAD_CRC' | 'RESERVED_BITS' | 'WRONG_STREAM_KIND';

export interface RefResult {
  /** Frames of known types, in order, up to the first error. */
  readonly frames: RefFrame[];
  /** Frames of unknown type that were verified and skipped. */
  readonly ignored: number;
  readonly error: RefError | undefined;
}

const HEADER = 20;
const CEILING = 16 * 1024 * 1024;

/** ARCHITECTURE.md frame-type table: where each known type may appear. */
const placement: Readonly<Record<number, 'connection' | 'stream' | 'both'>> = {
  0x01: 'connection', // HELLO
  0x02: 'stream', // OPEN
  0x03: 'stream', // DATA
  0x04: 'both', // CREDIT
  0x05: 'stream', // ACK
  0x06: 'stream', // DONE
  0x07: 'both', // ERROR
  0x08: 'stream', // CANCEL
  0x09: 'connection', // PING
  0x0a: 'connection', // GOAWAY
};

export function referenceDecode(input: Uint8Array, maxPayload: number = CEILING): RefResult {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const frames: RefFrame[] = [];
  let ignored = 0;
  const fail = (error: RefError): RefResult => ({ frames, ignored, error });
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER) return fail('TRUNCATED');
    const length = buf.readUInt32BE(at);
    if (length > maxPayload || length > CEILING) return fail('FRAME_SIZE');
    if (buf.length - at - HEADER < length) return fail('TRUNCATED');
    const covered = Buffer.concat([buf.subarray(at, at + 16), buf.subarray(at + HEADER, at + HEADER + length)]);
    if (crc32(covered) !== buf.readUInt32BE(at + 16)) return fail('BAD_CRC');
    if (buf.readUInt16BE(at + 6) !== 0) return fail('RESERVED_BITS');
    const type = buf.readUInt8(at + 4);
    const stream = buf.readUInt32BE(at + 8);
    const where = placement[type];
    if (where === undefined) {
      ignored++;
    } else {
      if (where === 'connection' && stream !== 0) return fail('WRONG_STREAM_KIND');
      if (where === 'stream' && stream === 0) return fail('WRONG_STREAM_KIND');
      frames.push({
        type,
        flags: buf.readUInt8(at + 5),
        stream,
        seq: buf.readUInt32BE(at + 12),
        payload: Buffer.from(buf.subarray(at + HEADER, at + HEADER + length)),
      });
    }
    at += HEADER + length;
  }
  return { frames, ignored, error: undefined };
}

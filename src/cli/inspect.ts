/**
 * `framewire inspect`: turns a captured byte stream (one direction of a connection, raw bytes or
 * hex) into one line per frame, flagging every rule the frame breaks. Unlike the decoder, which
 * stops at the first violation because the connection is over, the inspector keeps reading while
 * the length field still lets it find the next frame: people debugging a peer want all the faults.
 */

import { isFramewireError } from '../errors.ts';
import {
  crc32,
  CRC_COVERED_HEADER,
  DataFlags,
  FrameType,
  PackedReader,
  scanPacked,
  frameTypeName,
  HEADER_SIZE,
  isAllowedOn,
  isKnownFrameType,
  MAX_PAYLOAD_CEILING,
  parseFrame,
  readU32,
  type Frame,
} from '../wire/index.ts';

export interface InspectedFrame {
  readonly offset: number;
  readonly length: number;
  readonly type: string;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly crcOk: boolean;
  /** Decoded payload, summarised for display (control maps in full, DATA as size + preview). */
  readonly payload: unknown;
  readonly violations: readonly string[];
}

export interface InspectResult {
  readonly frames: readonly InspectedFrame[];
  /** Bytes after the last complete frame (a truncated capture or lost framing). */
  readonly trailingBytes: number;
  readonly violations: number;
}

export interface InspectOptions {
  /** The receiver's max_frame_payload; larger frames are flagged (default: the 16 MiB ceiling). */
  readonly maxPayload?: number;
  /** The capture stopped before the connection (a --capture bound): bytes of a cut last frame are no violation. */
  readonly truncatedCapture?: boolean;
}

/** Accepts raw bytes, or text that is hex (whitespace, colons and 0x prefixes are ignored). */
export function parseCapture(input: Uint8Array): Uint8Array {
  const text = Buffer.from(input).toString('latin1');
  const cleaned = text.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (cleaned.length > 0 && cleaned.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(cleaned)) return Buffer.from(cleaned, 'hex');
  return input;
}

export function inspectBytes(bytes: Uint8Array, options: InspectOptions = {}): InspectResult {
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD_CEILING;
  const frames: InspectedFrame[] = [];
  const nextSeq = new Map<number, number>();
  let at = 0;
  let violations = 0;
  while (bytes.length - at >= HEADER_SIZE) {
    const length = readU32(bytes, at);
    const v: string[] = [];
    if (length > MAX_PAYLOAD_CEILING) {
      v.push(`FRAME_SIZE: length ${length} exceeds the 16 MiB ceiling; framing lost`);
      frames.push(headerOnly(bytes, at, length, v));
      violations += v.length;
      return { frames, trailingBytes: bytes.length - at, violations };
    }
    if (bytes.length - at - HEADER_SIZE < length) break;
    const typeCode = bytes[at + 4] ?? 0;
    const stream = readU32(bytes, at + 8);
    const seq = readU32(bytes, at + 12);
    const payload = bytes.subarray(at + HEADER_SIZE, at + HEADER_SIZE + length);
    const crc = crc32(payload, crc32(bytes.subarray(at, at + CRC_COVERED_HEADER)));
    const crcOk = crc === readU32(bytes, at + 16);
    if (length > maxPayload) v.push(`FRAME_SIZE: payload ${length} > max_frame_payload ${maxPayload}`);
    if (!crcOk) v.push(`BAD_CRC: computed 0x${crc.toString(16).padStart(8, '0')}`);
    if (bytes[at + 6] !== 0 || bytes[at + 7] !== 0) v.push('RESERVED_BITS: reserved bytes are not 0');
    let shown: unknown = `${length} bytes`;
    if (!isKnownFrameType(typeCode)) {
      v.push('unknown frame type (ignored by receivers)');
    } else {
      if (!isAllowedOn(typeCode, stream)) v.push(`WRONG_STREAM_KIND: ${frameTypeName(typeCode)} not allowed on stream ${stream}`);
      try {
        const flags = bytes[at + 5] ?? 0;
        shown = typeCode === FrameType.DATA && (flags & DataFlags.PACKED) !== 0 ? summarisePacked(payload, flags, v) : summarise(parseFrame({ type: typeCode, flags, stream, seq, payload }));
      } catch (error) {
        v.push(isFramewireError(error) ? `${error.code}: ${error.message}` : String(error));
      }
      const expected = nextSeq.get(stream) ?? 0;
      if (seq !== expected) v.push(`SEQ_ERROR: expected seq ${expected}`);
      nextSeq.set(stream, (seq + 1) >>> 0);
    }
    frames.push({ offset: at, length, type: frameTypeName(typeCode), flags: bytes[at + 5] ?? 0, stream, seq, crcOk, payload: shown, violations: v });
    violations += v.length;
    at += HEADER_SIZE + length;
  }
  const trailing = bytes.length - at;
  return { frames, trailingBytes: trailing, violations: violations + (trailing > 0 && options.truncatedCapture !== true ? 1 : 0) };
}

function headerOnly(bytes: Uint8Array, at: number, length: number, violations: string[]): InspectedFrame {
  return {
    offset: at,
    length,
    type: frameTypeName(bytes[at + 4] ?? 0),
    flags: bytes[at + 5] ?? 0,
    stream: readU32(bytes, at + 8),
    seq: readU32(bytes, at + 12),
    crcOk: false,
    payload: undefined,
    violations,
  };
}

function summarise(frame: Frame): unknown {
  if (frame.payload instanceof Uint8Array) {
    const preview = Buffer.from(frame.payload.subarray(0, 16)).toString('hex');
    return `${frame.payload.length} bytes${frame.payload.length > 0 ? ` ${preview}${frame.payload.length > 16 ? '…' : ''}` : ''}`;
  }
  return frame.payload;
}

/** A PACKED DATA payload (spec §8.2.6): its message count and first lengths, or what is wrong with it. */
function summarisePacked(payload: Uint8Array, flags: number, violations: string[]): string {
  if ((flags & DataFlags.FOLLOWS) !== 0) violations.push('PROTOCOL_ERROR: PACKED DATA with FOLLOWS set (FW-PACK-2)');
  const scan = scanPacked(payload);
  if (!scan.ok) {
    violations.push(`PROTOCOL_ERROR: ${scan.problem} (FW-PACK-4)`);
    return `${payload.length} bytes, malformed PACKED`;
  }
  const reader = new PackedReader(payload, scan.messages);
  const lengths: number[] = [];
  while (reader.messagesLeft > 0 && lengths.length < 8) lengths.push(reader.next().length);
  return `PACKED ${scan.messages} messages [${lengths.join(', ')}${scan.messages > lengths.length ? ', …' : ''}] bytes`;
}

/** One readable line per frame, as `framewire inspect` prints them. */
export function formatInspection(result: InspectResult): string[] {
  const lines = result.frames.map((f) => {
    const flags = f.flags === 0 ? '' : ` flags=0x${f.flags.toString(16).padStart(2, '0')}`;
    const payload = f.payload === undefined ? '' : typeof f.payload === 'string' ? f.payload : JSON.stringify(f.payload, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
    const mark = f.violations.length === 0 ? 'ok ' : '!! ';
    const line = `${mark}@${f.offset} ${f.type} stream=${f.stream} seq=${f.seq} len=${f.length}${flags} crc=${f.crcOk ? 'ok' : 'BAD'} ${payload}`;
    return f.violations.length === 0 ? line : `${line}\n     ${f.violations.join('\n     ')}`;
  });
  if (result.trailingBytes > 0) lines.push(`!! ${result.trailingBytes} trailing bytes: TRUNCATED (the capture ends inside a frame)`);
  lines.push(`${result.frames.length} frames, ${result.violations} violations`);
  return lines;
}

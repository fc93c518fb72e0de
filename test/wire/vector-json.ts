/**
 * Loading spec/vectors/*.json and converting between typed frames and their JSON form
 * (conventions in spec/vectors/README.md: DATA/PING payloads are hex strings, CREDIT/ACK numbers,
 * control payloads their typed object with binary values as {"$bin": hex}).
 */

import { readFileSync } from 'node:fs';
import { isFramewireError, type FramewireError } from '../../src/errors.ts';
import { FrameDecoder, FrameType, parseFrame, type Frame, type RawFrame } from '../../src/wire/index.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface FrameJson {
  readonly type: number;
  readonly typeName: string;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly payload: Json;
}

export interface ValidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly frame: FrameJson;
  readonly decodeOnly?: boolean;
}

export interface StreamVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly frames: FrameJson[];
  readonly ignoredFrames?: number;
}

export interface InvalidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly maxPayload?: number;
  readonly error: string;
}

export interface IgnoredVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly ignoredFrames: number;
}

function load(file: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../spec/vectors/${file}`, import.meta.url), 'utf8'));
}

export const validFile = load('valid.json') as { frames: ValidVector[]; streams: StreamVector[] };
export const invalidFile = load('invalid.json') as { defaultMaxPayload: number; vectors: InvalidVector[] };
export const ignoredFile = load('ignored.json') as { vectors: IgnoredVector[] };

export const hexToBytes = (hex: string): Buffer => Buffer.from(hex, 'hex');
export const bytesToHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

const typeNames = new Map<number, string>(Object.entries(FrameType).map(([name, code]) => [code, name]));

/** JSON form of a decoded MessagePack value; anything that is not plain data is made visibly different. */
export function toJsonValue(value: unknown): Json {
  if (value instanceof Uint8Array) return { $bin: bytesToHex(value) };
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $number: String(value) };
  if (typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype) return { $notPlainObject: Object.prototype.toString.call(value) };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  }
  return { $unexpected: typeof value };
}

export function fromJsonValue(value: Json): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (value !== null && typeof value === 'object') {
    const bin = value['$bin'];
    if (typeof bin === 'string' && Object.keys(value).length === 1) return new Uint8Array(hexToBytes(bin));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromJsonValue(v)]));
  }
  return value;
}

export function frameToJson(frame: Frame): FrameJson {
  const base = { type: frame.type, typeName: typeNames.get(frame.type) ?? '?', flags: frame.flags, stream: frame.stream, seq: frame.seq };
  switch (frame.type) {
    case FrameType.DATA:
    case FrameType.PING:
      return { ...base, payload: bytesToHex(frame.payload) };
    case FrameType.CREDIT:
    case FrameType.ACK:
      return { ...base, payload: frame.payload };
    case FrameType.HELLO:
    case FrameType.OPEN:
    case FrameType.DONE:
    case FrameType.ERROR:
    case FrameType.CANCEL:
    case FrameType.GOAWAY:
      return { ...base, payload: toJsonValue(frame.payload) };
  }
}

export function jsonToFrame(json: FrameJson): Frame {
  const { type, flags, stream, seq } = json;
  let payload: unknown;
  if (type === FrameType.DATA || type === FrameType.PING) payload = new Uint8Array(hexToBytes(json.payload as string));
  else if (type === FrameType.CREDIT || type === FrameType.ACK) payload = json.payload;
  else payload = fromJsonValue(json.payload);
  return { type, flags, stream, seq, payload } as Frame;
}

export interface DecodeResult {
  readonly raw: RawFrame[];
  readonly frames: Frame[];
  readonly ignored: number;
  readonly error: FramewireError | undefined;
}

/**
 * Pushes `chunks` into a fresh decoder that parses every frame it emits, then ends it.
 * A FramewireError from push, end or parseFrame is returned; anything else is rethrown.
 */
export function decodeChunks(chunks: readonly Uint8Array[], maxPayload: number): DecodeResult {
  const raw: RawFrame[] = [];
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ maxPayload }, (f) => {
    raw.push(f);
    frames.push(parseFrame(f));
  });
  try {
    for (const c of chunks) decoder.push(c);
    decoder.end();
  } catch (error) {
    if (!isFramewireError(error)) throw error;
    return { raw, frames, ignored: decoder.ignoredFrames, error };
  }
  return { raw, frames, ignored: decoder.ignoredFrames, error: undefined };
}

/** Ways to cut `bytes` into chunks: whole, one byte at a time, and (for short inputs) every two-way split. */
export function chunkings(bytes: Buffer, maxTwoWay = 400): { label: string; chunks: Uint8Array[] }[] {
  const out = [
    { label: 'whole', chunks: [bytes] },
    { label: 'byte by byte', chunks: Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)) },
  ];
  if (bytes.length <= maxTwoWay) {
    for (let cut = 1; cut < bytes.length; cut++) out.push({ label: `split at ${cut}`, chunks: [bytes.subarray(0, cut), bytes.subarray(cut)] });
  }
  return out;
}

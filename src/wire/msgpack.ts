/**
 * MessagePack for control payloads (spec/PROTOCOL.md §5): one shared encoder, the strict decoder
 * (strict-msgpack.ts) with the limits of §5.2, and the small validators every control frame uses.
 * A payload that is not a map, breaks a rule of §5, has a known key of the wrong type, or lacks a
 * required key is MALFORMED_PAYLOAD, never a crash.
 */

import { Encoder } from '@msgpack/msgpack';
import { FramewireError } from '../errors.ts';
import { decodeStrict, encodedAsFloat, StrictDecodeError } from './strict-msgpack.ts';

/**
 * Bounds on what a control payload may contain (FW-CTRL-3); the frame length bounds the rest.
 * maxDepth sits far below the encoder's own nesting limit (100), so that a peer's value can always
 * be encoded again (an echoed trailer gains one level).
 */
export const ControlLimits = {
  maxStrLength: 64 * 1024,
  maxBinLength: 1024 * 1024,
  maxArrayLength: 1024,
  maxMapLength: 256,
  maxDepth: 32,
} as const;

const encoder = new Encoder({ ignoreUndefined: true, initialBufferSize: 256 });

/**
 * A MessagePack map of a control payload (OPEN meta, DONE trailer, ERROR details, event params and
 * summaries): string keys, MessagePack values.
 */
export type ControlMap = Readonly<Record<string, unknown>>;

export function encodeControl(value: ControlMap): Uint8Array {
  // A copy of the encoder's buffer (@msgpack/msgpack 3: encodeSharedRef() is the view), no other.
  return encoder.encode(value);
}

export function malformed(frame: string, why: string): FramewireError {
  return new FramewireError('MALFORMED_PAYLOAD', `${frame} payload: ${why}`);
}

/** Decodes one MessagePack map that must fill the payload exactly. */
export function decodeControl(frame: string, payload: Uint8Array): ControlMap {
  let value: unknown;
  try {
    value = decodeStrict(payload, ControlLimits);
  } catch (cause) {
    if (!(cause instanceof StrictDecodeError)) throw cause;
    throw new FramewireError('MALFORMED_PAYLOAD', `${frame} payload is not a valid control map: ${cause.message}`, { cause });
  }
  if (!isMap(value)) throw malformed(frame, 'must be a MessagePack map');
  return value;
}

/** The decoder builds every MessagePack map as a plain object; arrays and binaries are not maps. */
function isMap(v: unknown): v is ControlMap {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** Readers for known keys: absent → undefined; present with the wrong type → MALFORMED_PAYLOAD. */
export const read = {
  uint(frame: string, map: ControlMap, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = map[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max || encodedAsFloat(map, key)) {
      throw malformed(frame, `"${key}" must be an unsigned integer <= ${max}, encoded as an integer`);
    }
    return v;
  },
  str(frame: string, map: ControlMap, key: string, maxLength = ControlLimits.maxStrLength): string | undefined {
    const v = map[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > maxLength) throw malformed(frame, `"${key}" must be a string of at most ${maxLength} characters`);
    return v;
  },
  bool(frame: string, map: ControlMap, key: string): boolean | undefined {
    const v = map[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw malformed(frame, `"${key}" must be a boolean`);
    return v;
  },
  bin(frame: string, map: ControlMap, key: string): Uint8Array | undefined {
    const v = map[key];
    if (v === undefined) return undefined;
    if (!(v instanceof Uint8Array)) throw malformed(frame, `"${key}" must be binary`);
    return v;
  },
  map(frame: string, map: ControlMap, key: string): ControlMap | undefined {
    const v = map[key];
    if (v === undefined) return undefined;
    if (!isMap(v)) throw malformed(frame, `"${key}" must be a map`);
    return v;
  },
  required<T>(frame: string, key: string, value: T | undefined): T {
    if (value === undefined) throw malformed(frame, `required key "${key}" is missing`);
    return value;
  },
};

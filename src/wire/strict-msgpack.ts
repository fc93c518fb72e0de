/**
 * A strict MessagePack decoder for control payloads (spec/PROTOCOL.md §5). It accepts exactly what
 * §5 allows and nothing else: map keys are strings, no key twice in one map, every string is valid
 * UTF-8, no extension values, sizes and nesting within ControlLimits (FW-CTRL-2, FW-CTRL-3,
 * FW-CTRL-7). It also remembers which numbers were encoded as floats, so that a uint key holding
 * 2.0 is told apart from one holding 2 (FW-CTRL-6).
 *
 * Why not @msgpack/msgpack's decoder (which still encodes every payload): it keeps the last of two
 * equal keys, accepts integer and float keys, replaces invalid UTF-8 with U+FFFD, has no nesting
 * limit, hands a zero-length ext on as an object, and returns 2.0 as 2 with no trace of the float.
 * Each of those let a peer's malformed payload through; the spec now rejects all of them.
 *
 * Values: maps are plain objects, arrays are arrays, bin is a Uint8Array copy, nil is null, 64-bit
 * integers become numbers (exact up to 2^53-1; the key readers bound them). Recursion is bounded by
 * the nesting limit.
 */

import { isUtf8 } from 'node:buffer';

export interface StrictLimits {
  /** Bytes of one string. */
  readonly maxStrLength: number;
  /** Bytes of one binary. */
  readonly maxBinLength: number;
  /** Elements of one array. */
  readonly maxArrayLength: number;
  /** Entries of one map. */
  readonly maxMapLength: number;
  /** Containers inside containers: the top-level value is depth 1. */
  readonly maxDepth: number;
}

/** Why the bytes are not an acceptable control value (the caller turns it into MALFORMED_PAYLOAD). */
export class StrictDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrictDecodeError';
  }
}

/** Containers (maps and arrays) and the keys or indexes in them whose number was encoded as a float. */
const floats = new WeakMap<object, Set<string | number>>();

/** True when `container[key]` was decoded from a MessagePack float (float32 or float64), even an integral one. */
export function encodedAsFloat(container: object, key: string | number): boolean {
  return floats.get(container)?.has(key) === true;
}

/** Decodes one value that fills `bytes` exactly. Throws StrictDecodeError on anything §5 forbids. */
export function decodeStrict(bytes: Uint8Array, limits: StrictLimits): unknown {
  const reader = new Reader(bytes, limits);
  const value = reader.value(1);
  if (reader.at !== bytes.length) throw new StrictDecodeError(`${bytes.length - reader.at} byte(s) after the value`);
  return value;
}

/** One pass over the bytes; `lastWasFloat` tells the enclosing container that the value just read was a float. */
class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #limits: StrictLimits;
  at = 0;
  lastWasFloat = false;

  constructor(bytes: Uint8Array, limits: StrictLimits) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#limits = limits;
  }

  #need(n: number): number {
    const at = this.at;
    if (at + n > this.#bytes.length) throw new StrictDecodeError('the value is cut short');
    this.at = at + n;
    return at;
  }

  #u8(): number {
    return this.#view.getUint8(this.#need(1));
  }

  #u16(): number {
    return this.#view.getUint16(this.#need(2));
  }

  #u32(): number {
    return this.#view.getUint32(this.#need(4));
  }

  value(depth: number): unknown {
    this.lastWasFloat = false;
    const b = this.#u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0xa0 && b <= 0xbf) return this.#str(b - 0xa0);
    if (b >= 0x80 && b <= 0x8f) return this.#map(b - 0x80, depth);
    if (b >= 0x90 && b <= 0x9f) return this.#array(b - 0x90, depth);
    const v = this.#view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bin(this.#u8());
      case 0xc5:
        return this.#bin(this.#u16());
      case 0xc6:
        return this.#bin(this.#u32());
      case 0xca: {
        const f = v.getFloat32(this.#need(4));
        this.lastWasFloat = true;
        return f;
      }
      case 0xcb: {
        const f = v.getFloat64(this.#need(8));
        this.lastWasFloat = true;
        return f;
      }
      case 0xcc:
        return this.#u8();
      case 0xcd:
        return this.#u16();
      case 0xce:
        return this.#u32();
      case 0xcf:
        return Number(v.getBigUint64(this.#need(8)));
      case 0xd0:
        return v.getInt8(this.#need(1));
      case 0xd1:
        return v.getInt16(this.#need(2));
      case 0xd2:
        return v.getInt32(this.#need(4));
      case 0xd3:
        return Number(v.getBigInt64(this.#need(8)));
      case 0xd9:
        return this.#str(this.#u8());
      case 0xda:
        return this.#str(this.#u16());
      case 0xdb:
        return this.#str(this.#u32());
      case 0xdc:
        return this.#array(this.#u16(), depth);
      case 0xdd:
        return this.#array(this.#u32(), depth);
      case 0xde:
        return this.#map(this.#u16(), depth);
      case 0xdf:
        return this.#map(this.#u32(), depth);
      case 0xc7:
      case 0xc8:
      case 0xc9:
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        throw new StrictDecodeError('extension values are not used (FW-CTRL-3)');
      default:
        // 0xc1: never used by MessagePack.
        throw new StrictDecodeError(`0x${b.toString(16)} is not a MessagePack type byte`);
    }
  }

  #str(length: number): string {
    if (length > this.#limits.maxStrLength) throw new StrictDecodeError(`a string of ${length} bytes exceeds ${this.#limits.maxStrLength}`);
    const at = this.#need(length);
    const bytes = this.#bytes.subarray(at, at + length);
    if (!isUtf8(bytes)) throw new StrictDecodeError('a string is not valid UTF-8 (FW-CTRL-7)');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  }

  #bin(length: number): Uint8Array {
    if (length > this.#limits.maxBinLength) throw new StrictDecodeError(`a binary of ${length} bytes exceeds ${this.#limits.maxBinLength}`);
    const at = this.#need(length);
    // A copy (Buffer#slice would be a view): a payload views a transport read, which meta must not pin.
    return new Uint8Array(this.#bytes.subarray(at, at + length));
  }

  #nested(depth: number): number {
    if (depth > this.#limits.maxDepth) throw new StrictDecodeError(`values nest deeper than ${this.#limits.maxDepth} levels`);
    return depth + 1;
  }

  #array(length: number, depth: number): unknown[] {
    if (length > this.#limits.maxArrayLength) throw new StrictDecodeError(`an array of ${length} elements exceeds ${this.#limits.maxArrayLength}`);
    const inner = this.#nested(depth);
    const out: unknown[] = [];
    for (let i = 0; i < length; i++) {
      out.push(this.value(inner));
      if (this.lastWasFloat) markFloat(out, i);
    }
    this.lastWasFloat = false;
    return out;
  }

  #map(length: number, depth: number): Record<string, unknown> {
    if (length > this.#limits.maxMapLength) throw new StrictDecodeError(`a map of ${length} entries exceeds ${this.#limits.maxMapLength}`);
    const inner = this.#nested(depth);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < length; i++) {
      const key = this.#key();
      if (key === '__proto__') throw new StrictDecodeError('the key "__proto__" is not allowed (FW-CTRL-2)');
      if (Object.hasOwn(out, key)) throw new StrictDecodeError(`the key ${JSON.stringify(key)} appears twice in one map (FW-CTRL-2)`);
      out[key] = this.value(inner);
      if (this.lastWasFloat) markFloat(out, key);
    }
    this.lastWasFloat = false;
    return out;
  }

  /** A map key: a string and nothing else (FW-CTRL-2). */
  #key(): string {
    const b = this.#view.getUint8(this.#need(1));
    if (b >= 0xa0 && b <= 0xbf) return this.#str(b - 0xa0);
    if (b === 0xd9) return this.#str(this.#u8());
    if (b === 0xda) return this.#str(this.#u16());
    if (b === 0xdb) return this.#str(this.#u32());
    throw new StrictDecodeError(`map keys must be strings, got type byte 0x${b.toString(16)} (FW-CTRL-2)`);
  }
}

function markFloat(container: object, key: string | number): void {
  let set = floats.get(container);
  if (set === undefined) {
    set = new Set();
    floats.set(container, set);
  }
  set.add(key);
}

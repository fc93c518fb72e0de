/**
 * The one message a subscriber gets per event, `ev`, in the layout the general MessagePack codec
 * gives `{ t, id, type, data }` (a fixmap of t, id, type, data in that order), written and read by
 * offsets on the hot path: no map object, no key list, no strings rebuilt per event (an event type
 * is taken from a small cache, as msgpack's CachedKeyDecoder does for keys). Only the common case
 * is taken — an ASCII type, binary data when writing — and the bytes are exactly the general
 * encoder's; anything else returns undefined and goes through the general codec, which also gives
 * every error, so what is sent, accepted and decoded does not change (tests compare both ways).
 */

import type { Decoder } from '@msgpack/msgpack';
import { readU32, writeU32 } from '../wire/index.ts';
import type { EventMessage } from './protocol.ts';

/** The bytes every canonical `ev` message begins with: fixmap(4), "t", "ev", "id". */
const PREFIX = [0x84, 0xa1, 0x74, 0xa2, 0x65, 0x76, 0xa2, 0x69, 0x64] as const;
/** fixstr "type" and fixstr "data". */
const TYPE_KEY = [0xa4, 0x74, 0x79, 0x70, 0x65] as const;
const DATA_KEY = [0xa4, 0x64, 0x61, 0x74, 0x61] as const;

/** Types up to this many bytes are cached, a few per length: the cache stays a few KiB. */
const CACHED_TYPE_BYTES = 32;
const TYPES_PER_LENGTH = 8;

function matches(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  if (bytes.length < at + expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

/** Event types already seen, by byte length: compared byte for byte, replaced round-robin when full. */
class TypeCache {
  readonly #byLength: { bytes: Uint8Array; type: string }[][] = [];
  readonly #nextSlot: number[] = [];

  /** The ASCII string of bytes[at, at + n), undefined when a byte is not ASCII. */
  get(bytes: Uint8Array, at: number, n: number): string | undefined {
    if (n > CACHED_TYPE_BYTES) return ascii(bytes, at, n);
    const entries = (this.#byLength[n] ??= []);
    outer: for (const entry of entries) {
      for (let i = 0; i < n; i++) if (entry.bytes[i] !== bytes[at + i]) continue outer;
      return entry.type;
    }
    const type = ascii(bytes, at, n);
    if (type === undefined) return undefined;
    const entry = { bytes: bytes.slice(at, at + n), type };
    if (entries.length < TYPES_PER_LENGTH) {
      entries.push(entry);
    } else {
      const slot = this.#nextSlot[n] ?? 0;
      entries[slot] = entry;
      this.#nextSlot[n] = (slot + 1) % TYPES_PER_LENGTH;
    }
    return type;
  }
}

/**
 * What the general encoder writes for `{ t: 'ev', id, type, data }` when `data` is a Uint8Array,
 * the type ASCII (under 256 characters) and the id below 2^32; undefined otherwise.
 */
export function writeCanonicalEvent(id: number, type: string, data: unknown): Uint8Array | undefined {
  if (!(data instanceof Uint8Array) || !Number.isSafeInteger(id) || id < 0 || id >= 2 ** 32 || type.length >= 0x100) return undefined;
  const n = type.length;
  const size = data.length;
  if (size >= 2 ** 32) return undefined;
  const idBytes = id < 0x80 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : 5;
  const typeHead = n < 32 ? 1 : 2;
  const binHead = size < 0x100 ? 2 : size < 0x10000 ? 3 : 5;
  const out = new Uint8Array(PREFIX.length + idBytes + TYPE_KEY.length + typeHead + n + DATA_KEY.length + binHead + size);
  out.set(PREFIX);
  let at = PREFIX.length;
  // A positive fixint, else uint 8/16/32.
  if (idBytes === 1) out[at] = id;
  else writeSizedHead(out, at, 0xcc, id, idBytes);
  at += idBytes;
  out.set(TYPE_KEY, at);
  at += TYPE_KEY.length;
  if (typeHead === 1) {
    out[at] = 0xa0 + n;
  } else {
    out[at] = 0xd9;
    out[at + 1] = n;
  }
  at += typeHead;
  for (let i = 0; i < n; i++) {
    const c = type.charCodeAt(i);
    if (c >= 0x80) return undefined;
    out[at + i] = c;
  }
  at += n;
  out.set(DATA_KEY, at);
  at += DATA_KEY.length;
  writeSizedHead(out, at, 0xc4, size, binHead); // bin 8/16/32
  out.set(data, at + binHead);
  return out;
}

/**
 * A MessagePack head of `width` bytes (2, 3 or 5): the 8-, 16- or 32-bit form of a family whose
 * three tags are consecutive from `tag8` (uint 0xcc.., bin 0xc4..), then `value` big-endian.
 */
function writeSizedHead(out: Uint8Array, at: number, tag8: number, value: number, width: 2 | 3 | 5): void {
  if (width === 2) {
    out[at] = tag8;
    out[at + 1] = value;
  } else if (width === 3) {
    out[at] = tag8 + 1;
    out[at + 1] = value >>> 8;
    out[at + 2] = value;
  } else {
    out[at] = tag8 + 2;
    writeU32(out, at + 1, value);
  }
}

/** bytes[i], or 256 (no byte value) past the end. */
function byte(bytes: Uint8Array, i: number): number {
  return bytes[i] ?? 256;
}

function ascii(bytes: Uint8Array, at: number, n: number): string | undefined {
  let s = '';
  for (let i = at; i < at + n; i++) {
    const b = byte(bytes, i);
    if (b >= 0x80) return undefined;
    s += String.fromCharCode(b);
  }
  return s;
}

/**
 * Reads the event if `bytes` is a canonical `ev` message the general decoder would accept, else
 * undefined. `decoder` decodes the data value (the last bytes of the message) when it is not a
 * binary; a data value it rejects sends the whole message down the general path too.
 */
export class CanonicalEventReader {
  readonly #decoder: Decoder;
  readonly #types = new TypeCache();

  constructor(decoder: Decoder) {
    this.#decoder = decoder;
  }

  read(bytes: Uint8Array): EventMessage | undefined {
    if (!matches(bytes, 0, PREFIX)) return undefined;
    let at = PREFIX.length;
    const head = bytes[at];
    let id: number;
    if (head === undefined) return undefined;
    if (head < 0x80) {
      id = head;
      at += 1;
    } else if (head === 0xcc && bytes.length >= at + 2) {
      id = byte(bytes, at + 1);
      at += 2;
    } else if (head === 0xcd && bytes.length >= at + 3) {
      id = (byte(bytes, at + 1) << 8) | byte(bytes, at + 2);
      at += 3;
    } else if (head === 0xce && bytes.length >= at + 5) {
      id = readU32(bytes, at + 1);
      at += 5;
    } else {
      return undefined;
    }
    // Id 0 is an error: the general path words it.
    if (id === 0 || !matches(bytes, at, TYPE_KEY)) return undefined;
    at += TYPE_KEY.length;
    const strHead = bytes[at];
    let length: number;
    if (strHead !== undefined && strHead > 0xa0 && strHead <= 0xbf) {
      length = strHead - 0xa0;
      at += 1;
    } else if (strHead === 0xd9 && bytes.length > at + 1) {
      length = byte(bytes, at + 1);
      at += 2;
    } else {
      return undefined;
    }
    // Checking the type's length is the caller's: for ASCII it is the byte length.
    if (length === 0 || bytes.length < at + length) return undefined;
    const type = this.#types.get(bytes, at, length);
    if (type === undefined) return undefined;
    at += length;
    if (!matches(bytes, at, DATA_KEY)) return undefined;
    at += DATA_KEY.length;
    const data = this.#data(bytes, at);
    return data === NOT_CANONICAL ? undefined : { t: 'ev', id, type, data };
  }

  #data(bytes: Uint8Array, at: number): unknown {
    const head = bytes[at];
    if (head === undefined) return NOT_CANONICAL;
    // bin 8 filling the rest: a view, as the general decoder returns.
    if (head === 0xc4 && bytes.length > at + 1 && bytes[at + 1] === bytes.length - at - 2) return bytes.subarray(at + 2);
    try {
      return this.#decoder.decode(bytes.subarray(at));
    } catch {
      return NOT_CANONICAL;
    }
  }
}

const NOT_CANONICAL = Symbol('not canonical');

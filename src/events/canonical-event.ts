/**
 * The receive path's shortcut for the one message a subscriber gets per event: `ev` exactly as
 * `encodeEvent` lays it out (a fixmap of t, id, type, data in that order, an ASCII type). Reading it
 * by offsets skips building the map and its strings; an event type is taken from a small cache
 * rather than rebuilt per event (as msgpack's CachedKeyDecoder does for keys). Anything else
 * returns undefined and goes through the general decoder, which also gives every error, so what is
 * accepted and how it decodes do not change.
 */

import type { Decoder } from '@msgpack/msgpack';
import { readU32 } from '../wire/index.ts';
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

/**
 * CRC-32 (IEEE 802.3, the zlib polynomial), the codec's main cost on receipt.
 *
 * Three implementations compute the same value; the fastest available is chosen once at load:
 * `@node-rs/crc32` (SIMD, a prebuilt native addon), node's `zlib.crc32` (Node >= 20.15), and the
 * pure-JS `crc-32` package as the fallback that needs nothing native. bench/crc.bench.ts measures
 * them on 16 B .. 1 MiB; bench/results/crc.json holds the figures that justify the order.
 *
 * A native call costs ~90 ns whatever the size, so below SMALL_INPUT bytes the pure-JS table
 * lookup wins (13 ns for 16 B against ~100 ns): small inputs always take the JS path, and the
 * 16 header bytes every frame checksums go through `crc32Range`, which needs no view either.
 */

import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import CRC32 from 'crc-32';

/** crc32(data, previous) continues a running CRC, so header and payload need not be contiguous. */
export type Crc32Fn = (data: Uint8Array, previous?: number) => number;

export type Crc32ImplName = 'node-rs' | 'zlib' | 'js';

const require = createRequire(import.meta.url);

function loadNodeRs(): Crc32Fn | undefined {
  try {
    const mod = require('@node-rs/crc32') as { crc32: (input: Uint8Array, initial?: number) => number };
    const fn = mod.crc32;
    // The standard check value of CRC-32/ISO-HDLC: refuse an addon that computes anything else.
    if (fn(Buffer.from('123456789')) !== 0xcbf43926) return undefined;
    return (data, previous = 0) => fn(data, previous);
  } catch {
    return undefined;
  }
}

function loadZlib(): Crc32Fn | undefined {
  const fn = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (typeof fn !== 'function') return undefined;
  // zlib.crc32 returns 0, not `previous`, for an empty view whose ArrayBuffer has no backing
  // store (e.g. `new Uint8Array(new ArrayBuffer(0))`): node passes zlib a NULL pointer, which zlib
  // reads as "give me the initial value". No data must leave a running CRC unchanged.
  return (data, previous = 0) => (data.length === 0 ? previous : fn(data, previous));
}

/** The pure fallback: `crc-32` returns a signed int32, the wire wants unsigned. */
export const crc32Js: Crc32Fn = (data, previous = 0) => CRC32.buf(data, previous) >>> 0;

export const crc32Implementations: Readonly<Record<Crc32ImplName, Crc32Fn | undefined>> = {
  'node-rs': loadNodeRs(),
  zlib: loadZlib(),
  js: crc32Js,
};

function pick(): { name: Crc32ImplName; fn: Crc32Fn } {
  const forced = process.env['FRAMEWIRE_CRC32'] as Crc32ImplName | undefined;
  const order: Crc32ImplName[] = forced === undefined ? ['node-rs', 'zlib', 'js'] : [forced];
  for (const name of order) {
    const fn = crc32Implementations[name];
    if (fn !== undefined) return { name, fn };
  }
  return { name: 'js', fn: crc32Js };
}

const chosen = pick();

/** The name of the implementation used for large inputs, for logs and benchmark reports. */
export const crc32ImplName: Crc32ImplName = chosen.name;

/** Below this many bytes the pure-JS CRC beats a native call (bench/results/crc.json: crossover 128..256 B). */
export const SMALL_INPUT = 192;

const large = chosen.fn;

/** CRC-32 (IEEE 802.3, the zlib polynomial) of `data`, continuing the running CRC `previous`. */
export const crc32: Crc32Fn = chosen.name === 'js' ? crc32Js : (data, previous = 0) => (data.length < SMALL_INPUT ? CRC32.buf(data, previous) >>> 0 : large(data, previous));

const TABLE = ((): Int32Array => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 of bytes [start, end) of `bytes`, continuing `previous`: the header CRC without a subarray. */
export function crc32Range(bytes: Uint8Array, start: number, end: number, previous = 0): number {
  let c = ~previous;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

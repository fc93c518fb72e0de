/**
 * CRC-32 (IEEE 802.3, the zlib polynomial), the codec's main cost on receipt.
 *
 * Three implementations compute the same value; the fastest available is chosen once at load:
 * `@node-rs/crc32` (SIMD, a prebuilt native addon), node's `zlib.crc32` (Node >= 20.15), and the
 * pure-JS `crc-32` package as the fallback that needs nothing native. bench/crc.bench.ts measures
 * them on 64 B .. 1 MiB; bench/results/crc.json holds the figures that justify the order.
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

/** The name of the implementation in use, for logs and benchmark reports. */
export const crc32ImplName: Crc32ImplName = chosen.name;

export const crc32: Crc32Fn = chosen.fn;

/**
 * The strict control-payload decoder (spec §5): what it accepts round-trips exactly, and every
 * rule of §5 that @msgpack/msgpack's decoder does not enforce is rejected, each at its limit.
 */

import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFramewireError } from '../../src/errors.ts';
import { ControlLimits, parseFrame, FrameType } from '../../src/wire/index.ts';
import { decodeStrict, encodedAsFloat, StrictDecodeError } from '../../src/wire/strict-msgpack.ts';
import { controlMap } from './arbitraries.ts';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/gu, ''), 'hex');
const decode = (bytes: Uint8Array): unknown => decodeStrict(bytes, ControlLimits);
const rejects = (bytes: Uint8Array, why: RegExp): void => {
  expect(() => decode(bytes)).toThrow(StrictDecodeError);
  expect(() => decode(bytes)).toThrow(why);
};
/** A map nested `levels` deep: {"a": {"a": … {}}}. */
const nested = (levels: number): unknown => {
  let v: unknown = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
};

describe('strict MessagePack decoder', () => {
  it('decodes what @msgpack/msgpack encodes to the same value (maps with string keys, any values within the limits)', () => {
    fc.assert(
      fc.property(controlMap, (map) => {
        expect(decode(encode(map))).toStrictEqual(map);
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes every integer width, including 64-bit ones, and keeps a binary as a copy', () => {
    // uint8 200, uint16 60000, uint32 2^32-1, uint64 2^53-1, int8 -100, int16 -30000, int32 -2^31, int64 -2^53+1
    const bytes = h('98 cc c8 cd ea60 ce ffffffff cf 001fffffffffffff d0 9c d1 8ad0 d2 80000000 d3 ffe0000000000001');
    expect(decode(bytes)).toStrictEqual([200, 60000, 0xffffffff, Number.MAX_SAFE_INTEGER, -100, -30000, -(2 ** 31), -(2 ** 53) + 1]);
    const bin = h('c4 02 abcd');
    const out = decode(bin) as Uint8Array;
    bin[2] = 0;
    expect(Buffer.from(out).toString('hex')).toBe('abcd');
  });

  it('rejects a key that appears twice in one map, at any depth (FW-CTRL-2)', () => {
    rejects(h('82 a4 6b696e64 a1 61 a4 6b696e64 a1 62'), /appears twice/u);
    rejects(Buffer.concat([h('81 a4 6d657461 82'), encode('x'), encode(1), encode('x'), encode(2)]), /appears twice/u);
    // The same key in two different maps is fine.
    expect(decode(encode({ a: { x: 1 }, b: { x: 2 } }))).toStrictEqual({ a: { x: 1 }, b: { x: 2 } });
  });

  it('rejects integer, float, nil, binary, array and map keys (FW-CTRL-2)', () => {
    for (const key of ['01', 'cd0100', 'ff', 'cb4000000000000000', 'ca40000000', 'c0', 'c40161', '90', '80']) {
      rejects(Buffer.concat([h('81'), h(key), h('01')]), /keys must be strings/u);
    }
  });

  it('rejects "__proto__" as a key at any depth', () => {
    rejects(Buffer.concat([h('81 a1 61 81'), encode('__proto__'), encode(1)]), /__proto__/u);
  });

  it('rejects every extension format, zero-length ones too (FW-CTRL-3)', () => {
    for (const ext of ['c70005', 'c8000005', 'c900000000 05', 'd405 00', 'd505 0000', 'd605 00000000', 'd705 0000000000000000', 'd805 00000000000000000000000000000000']) {
      rejects(Buffer.concat([h('81 a1 78'), h(ext)]), /extension/u);
    }
  });

  it('rejects invalid UTF-8 in values and keys, keeps a BOM and accepts 4-byte sequences (FW-CTRL-7)', () => {
    rejects(h('81 a4 6b696e64 a3 fffefd'), /UTF-8/u);
    rejects(h('81 a2 c328 01'), /UTF-8/u);
    // An encoded surrogate (U+D800) and an overlong "/" are not UTF-8 either.
    rejects(h('a3 eda080'), /UTF-8/u);
    rejects(h('a2 c0af'), /UTF-8/u);
    expect(decode(h('a3 efbbbf'))).toBe('\ufeff');
    expect(decode(encode('😀 ok'))).toBe('😀 ok');
  });

  it(`accepts containers nested ${ControlLimits.maxDepth} deep and rejects one level more`, () => {
    expect(decode(encode(nested(ControlLimits.maxDepth)))).toStrictEqual(nested(ControlLimits.maxDepth));
    rejects(encode(nested(ControlLimits.maxDepth + 1)), /nest deeper/u);
    const arrays = (levels: number): unknown => (levels === 1 ? [] : [arrays(levels - 1)]);
    expect(() => decode(encode(arrays(ControlLimits.maxDepth)))).not.toThrow();
    rejects(encode(arrays(ControlLimits.maxDepth + 1)), /nest deeper/u);
  });

  it('enforces each size limit of §5.2 exactly at its value (FW-CTRL-3)', () => {
    const l = ControlLimits;
    expect(() => decode(encode('x'.repeat(l.maxStrLength)))).not.toThrow();
    rejects(encode('x'.repeat(l.maxStrLength + 1)), /string/u);
    expect(() => decode(encode(new Uint8Array(l.maxBinLength)))).not.toThrow();
    rejects(encode(new Uint8Array(l.maxBinLength + 1)), /binary/u);
    expect(() => decode(encode(new Array(l.maxArrayLength).fill(0)))).not.toThrow();
    rejects(encode(new Array(l.maxArrayLength + 1).fill(0)), /array/u);
    const map = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(() => decode(encode(map(l.maxMapLength)))).not.toThrow();
    rejects(encode(map(l.maxMapLength + 1)), /map/u);
  });

  it('rejects bytes after the value, a value cut short, and 0xc1', () => {
    rejects(h('80 00'), /after the value/u);
    rejects(h('82 a1 61 01'), /cut short/u);
    rejects(h('cd 01'), /cut short/u);
    rejects(h('c1'), /not a MessagePack type byte/u);
  });

  it('remembers which numbers were floats, even integral ones', () => {
    const m = decode(h('83 a1 61 cb4000000000000000 a1 62 02 a1 63 92 ca40000000 02')) as { a: number; b: number; c: number[] };
    expect(m).toStrictEqual({ a: 2, b: 2, c: [2, 2] });
    expect([encodedAsFloat(m, 'a'), encodedAsFloat(m, 'b'), encodedAsFloat(m.c, 0), encodedAsFloat(m.c, 1)]).toStrictEqual([true, false, true, false]);
  });
});

describe('control payloads follow §5 through the frame parsers', () => {
  const open = (payload: Uint8Array): unknown => parseFrame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload });
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
      return undefined;
    } catch (error) {
      return isFramewireError(error) ? error.code : String(error);
    }
  };

  it('a uint key holding a float is MALFORMED_PAYLOAD, even 2.0 (FW-CTRL-6), an integer is not', () => {
    expect(code(() => open(h('82 a4 6b696e64 a4 6563686f a7 757267656e6379 cb4000000000000000')))).toBe('MALFORMED_PAYLOAD');
    expect(code(() => open(h('82 a4 6b696e64 a4 6563686f a7 757267656e6379 02')))).toBeUndefined();
    // HELLO versions and settings too.
    const hello = (payload: Uint8Array): unknown => parseFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload });
    expect(code(() => hello(h('81 a8 76657273696f6e73 91 ca3f800000')))).toBe('MALFORMED_PAYLOAD');
    // idle_timeout_ms as the float64 30000.0
    expect(code(() => hello(Buffer.concat([h('82'), encode('versions'), encode([1]), encode('settings'), h('81'), encode('idle_timeout_ms'), h('cb40dd4c0000000000')])))).toBe('MALFORMED_PAYLOAD');
  });

  it('a float is a value like any other inside meta (type any)', () => {
    const f = open(encode({ kind: 'echo', meta: { ratio: 0.5, two: 2.5 } })) as { payload: { meta: Record<string, unknown> } };
    expect(f.payload.meta).toStrictEqual({ ratio: 0.5, two: 2.5 });
  });

  it('every rule of the decoder surfaces as MALFORMED_PAYLOAD', () => {
    for (const bad of [h('82 a4 6b696e64 a1 61 a4 6b696e64 a1 62'), h('82 a4 6b696e64 a1 61 01 01'), h('82 a4 6b696e64 a1 61 a4 6d657461 81 a1 78 c70005'), h('81 a4 6b696e64 a3 fffefd'), encode({ kind: 'k', meta: nested(ControlLimits.maxDepth) })]) {
      expect(code(() => open(bad))).toBe('MALFORMED_PAYLOAD');
    }
    expect(code(() => open(encode({ kind: 'k', meta: nested(ControlLimits.maxDepth - 1) })))).toBeUndefined();
  });
});

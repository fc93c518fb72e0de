/**
 * The subscriber's shortcut for canonical `ev` messages (src/events/canonical-event.ts) decides
 * nothing of its own: whatever it reads, the general MessagePack decoder reads the same way, and
 * anything else (other layouts, damaged bytes, non-ASCII types) is left to the general path.
 */

import { Decoder, Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanonicalEventReader, writeCanonicalEvent } from '../../src/events/canonical-event.ts';
import { decodeServerMessage, encodeAck, encodeEvent, TYPE_MAX } from '../../src/events/protocol.ts';
import { encodeControl } from '../../src/wire/msgpack.ts';
import { FramewireError } from '../../src/errors.ts';

const general = new Decoder({ useBigInt64: false, maxExtLength: 0 });
const generalEncoder = new Encoder({ ignoreUndefined: true });

/** What the general path makes of `bytes` when it is an event, else undefined. */
function generalEvent(bytes: Uint8Array): unknown {
  let m: unknown;
  try {
    m = general.decode(bytes);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || Object.getPrototypeOf(m) !== Object.prototype) return undefined;
  const r = m as Record<string, unknown>;
  const { id, type } = r;
  if (r['t'] !== 'ev' || typeof type !== 'string' || type.length === 0) return undefined;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return undefined;
  return { t: 'ev', id, type, data: r['data'] };
}

const ids = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 + 10 }), fc.constant(2 ** 53 - 1));
const types = fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 140 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('e', 'tick', 'x'.repeat(33)));
const data = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.constant(undefined),
  fc.constant(null),
  fc.double(),
  fc.string(),
  fc.array(fc.integer(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 4 }),
);
/** A damage to apply: change a byte, cut the end off, or add a byte. */
const damage = fc.record({ kind: fc.constantFrom('set', 'cut', 'append'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });

function damaged(bytes: Uint8Array, d: { kind: string; at: number; value: number }): Uint8Array {
  const out = Uint8Array.from(bytes);
  if (d.kind === 'set') {
    out[d.at % out.length] = d.value;
    return out;
  }
  if (d.kind === 'cut') return out.subarray(0, d.at % out.length);
  return Uint8Array.from([...out, d.value]);
}

describe('canonical ev messages', () => {
  it('are written byte for byte as the general encoder writes { t, id, type, data }, and for every ASCII type, binary data and id below 2^32', () => {
    const anyIds = fc.oneof(ids, fc.integer({ min: -1000, max: -1 }), fc.double(), fc.constant(2 ** 53));
    const anyTypes = fc.oneof(types, fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 300 }), fc.constantFrom(31, 32, 255, 256).map((n) => 't'.repeat(n)));
    const anyData = fc.oneof(data, fc.constantFrom(0xff, 0x100, 0xffff, 0x10000).map((n) => new Uint8Array(n).fill(3)), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), fc.constant(new Uint16Array([1, 2])));
    fc.assert(
      fc.property(anyIds, anyTypes, anyData, (id, type, value) => {
        const written = writeCanonicalEvent(id, type, value);
        const takes = value instanceof Uint8Array && Number.isSafeInteger(id) && id >= 0 && id < 2 ** 32 && type.length < 256 && Array.from(type).every((c) => c.charCodeAt(0) < 0x80);
        expect(written !== undefined).toBe(takes);
        if (written !== undefined) expect(written).toEqual(generalEncoder.encode({ t: 'ev', id, type, data: value }));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads what encodeEvent writes (ASCII types) exactly as the general decoder does', () => {
    const reader = new CanonicalEventReader(general);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 140 }), data, (id, type, value) => {
        const bytes = encodeEvent(id, type, value);
        const read = reader.read(bytes);
        if (value === undefined) {
          // No data key: another layout, the general path's.
          expect(read).toBeUndefined();
          return;
        }
        expect(read).toBeDefined();
        expect(read).toStrictEqual(generalEvent(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('any other bytes: reads nothing, or the same as the general decoder', () => {
    const reader = new CanonicalEventReader(general);
    fc.assert(
      fc.property(ids, types, data, fc.option(damage, { nil: undefined }), (id, type, value, d) => {
        const canonical = encodeEvent(id, type, value);
        const bytes = d === undefined ? canonical : damaged(canonical, d);
        const read = reader.read(bytes);
        if (read !== undefined) expect(read).toStrictEqual(generalEvent(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('the data view is of the message bytes, as the general decoder returns it', () => {
    const bytes = Buffer.from(encodeEvent(7, 'e', new Uint8Array([1, 2, 3])));
    const read = new CanonicalEventReader(general).read(bytes);
    expect(read?.data).toBeInstanceOf(Buffer);
    expect((read?.data as Buffer).buffer).toBe(bytes.buffer);
  });

  it('a cached type is not confused with another of the same length', () => {
    const reader = new CanonicalEventReader(general);
    const seen = Array.from({ length: 20 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (let round = 0; round < 3; round++) {
      for (const [i, type] of seen.entries()) expect(reader.read(encodeEvent(i + 1, type, null))?.type).toBe(type);
    }
  });

  it('FW-EV-11, FW-EV-12: decodeServerMessage still rejects an id 0 and a type over the limit, canonical or not', () => {
    for (const bytes of [encodeEvent(0, 'e', null), encodeEvent(1, 'x'.repeat(TYPE_MAX + 1), null), encodeEvent(1, '', null)]) {
      expect(() => decodeServerMessage(bytes)).toThrow(FramewireError);
    }
    expect(decodeServerMessage(encodeEvent(1, 'x'.repeat(TYPE_MAX), 5))).toEqual({ t: 'ev', id: 1, type: 'x'.repeat(TYPE_MAX), data: 5 });
  });

  it('each encoded message owns its bytes: the next encode does not overwrite them', () => {
    const first = [encodeEvent(1, 'e', new Uint8Array([1, 2])), encodeAck(1), encodeControl({ a: 1 })];
    const copies = first.map((b) => Uint8Array.from(b));
    encodeEvent(2, 'x'.repeat(40), new Uint8Array(600).fill(9));
    encodeAck(2 ** 31);
    encodeControl({ b: 'y'.repeat(300) });
    expect(first).toEqual(copies);
    for (const b of first) expect(b.byteLength).toBe(b.buffer.byteLength);
  });
});

/**
 * Encoding side of the wire layer: FrameBatch packing, zero-copy encodeFrameParts, header field
 * offsets, the three CRC-32 implementations, settings bounds, and the error registry.
 */

import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorCodeName, ErrorCodes, FramewireError, isFramewireError, type ErrorCodeName } from '../../src/errors.ts';
import {
  crc32,
  crc32ImplName,
  crc32Implementations,
  defaultSettings,
  encodeFrame,
  encodeFrameParts,
  encodeHeader,
  FrameBatch,
  SlabPool,
  FrameType,
  HEADER_SIZE,
  HeaderOffset,
  invalidSetting,
  readU32,
  settingBounds,
  settingKeys,
  writeHeader,
  writeU32,
  type Crc32ImplName,
  type Frame,
} from '../../src/wire/index.ts';
import { anyFrame } from './arbitraries.ts';
import { decodeChunks, frameToJson } from './vector-json.ts';

const concat = (chunks: readonly Uint8Array[]): Buffer => Buffer.concat(chunks);
const data = (payload: Uint8Array, seq = 0): Frame => ({ type: FrameType.DATA, flags: 0, stream: 1, seq, payload });

describe('FrameBatch', () => {
  it('packs small frames into one slab chunk, byte-identical to encodeFrame', () => {
    const batch = new FrameBatch();
    const frames: Frame[] = [
      { type: FrameType.CREDIT, flags: 0, stream: 0, seq: 0, payload: 65536 },
      { type: FrameType.ACK, flags: 0, stream: 3, seq: 1, payload: 7 },
      data(Buffer.from('small'), 2),
      { type: FrameType.PING, flags: 1, stream: 0, seq: 3, payload: Buffer.alloc(8, 1) },
    ];
    for (const f of frames) batch.pushFrame(f);
    expect(batch.frameCount).toBe(4);
    const expected = concat(frames.map((f) => encodeFrame(f)));
    expect(batch.byteLength).toBe(expected.length);
    const out = batch.take();
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!).equals(expected)).toBe(true);
  });

  it('passes payloads above copyThreshold by reference (same object) and copies those at the threshold', () => {
    const batch = new FrameBatch({ copyThreshold: 100 });
    const atThreshold = Buffer.alloc(100, 0x61);
    const large = Buffer.alloc(101, 0x62);
    batch.push(FrameType.DATA, 0, 1, 0, atThreshold);
    batch.push(FrameType.DATA, 1, 1, 1, large);
    batch.push(FrameType.DATA, 0, 1, 2, Buffer.from('tail'));
    const out = batch.take();
    // [header+copied payload, header of the large frame] [large payload] [tail frame]
    expect(out).toHaveLength(3);
    expect(out[0]!.length).toBe(HEADER_SIZE + 100 + HEADER_SIZE);
    expect(out[1]).toBe(large);
    expect(out.some((c) => c === atThreshold)).toBe(false);
    const expected = concat([
      encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload: atThreshold }),
      encodeFrame({ type: FrameType.DATA, flags: 1, stream: 1, seq: 1, payload: large }),
      encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 2, payload: Buffer.from('tail') }),
    ]);
    expect(concat(out).equals(expected)).toBe(true);
  });

  it('take() resets the batch', () => {
    const batch = new FrameBatch();
    batch.pushFrame(data(Buffer.from('x')));
    expect(batch.take()).toHaveLength(1);
    expect(batch.byteLength).toBe(0);
    expect(batch.frameCount).toBe(0);
    expect(batch.take()).toStrictEqual([]);
    batch.pushFrame(data(Buffer.from('y'), 1));
    const again = batch.take();
    expect(concat(again).equals(encodeFrame(data(Buffer.from('y'), 1)))).toBe(true);
  });

  it('never overwrites bytes handed out by take(), across slab roll-overs', () => {
    const batch = new FrameBatch({ copyThreshold: 16, slabSize: 64 });
    const taken: { chunks: Uint8Array[]; copy: Buffer }[] = [];
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i <= round % 5; i++) batch.pushFrame(data(Buffer.alloc((round * 7 + i) % 40, round), i));
      const chunks = batch.take();
      taken.push({ chunks, copy: Buffer.from(concat(chunks)) });
    }
    for (const t of taken) expect(concat(t.chunks).equals(t.copy)).toBe(true);
  });

  it('takeForWrite(): slabs are reused only after written(), and no byte still unwritten is overwritten', () => {
    const batch = new FrameBatch({ copyThreshold: 16, slabSize: 64, pool: new SlabPool(8) });
    const inFlight: { chunks: Uint8Array[]; copy: Buffer; written: () => void }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i <= round % 4; i++) batch.pushFrame(data(Buffer.alloc((round * 5 + i) % 17, round & 0xff), i));
      const { chunks, written } = batch.takeForWrite();
      for (const c of chunks) buffers.add(c.buffer);
      inFlight.push({ chunks, copy: Buffer.from(concat(chunks)), written });
      // The "socket" completes writes two takes late, and checks that nothing changed meanwhile.
      if (inFlight.length > 2) {
        const done = inFlight.shift()!;
        expect(concat(done.chunks).equals(done.copy)).toBe(true);
        done.written();
        done.written(); // a second call is harmless
      }
    }
    for (const t of inFlight) expect(concat(t.chunks).equals(t.copy)).toBe(true);
    // ~200 takes of up to 4 small frames need ~290 64-byte slabs without reuse (SlabPool(0): 287); reuse keeps the count small.
    expect(buffers.size).toBeLessThan(20);
  });

  it('take() slabs are never reused, even once later takes are written', () => {
    const batch = new FrameBatch({ copyThreshold: 16, slabSize: 64, pool: new SlabPool(8) });
    const kept: { chunks: Uint8Array[]; copy: Buffer }[] = [];
    for (let round = 0; round < 100; round++) {
      batch.pushFrame(data(Buffer.alloc(10, round & 0xff), round));
      if (round % 2 === 0) {
        const chunks = batch.take();
        kept.push({ chunks, copy: Buffer.from(concat(chunks)) });
      } else {
        batch.takeForWrite().written();
      }
    }
    for (const t of kept) expect(concat(t.chunks).equals(t.copy)).toBe(true);
  });

  it('any frames, any threshold and slab size: take() concatenates to the encodeFrame bytes and decodes back', () => {
    fc.assert(
      fc.property(
        fc.array(anyFrame, { maxLength: 10 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.nat({ max: 10 }), { maxLength: 3 }),
        (frames, copyThreshold, slabSize, takeAfter) => {
          const batch = new FrameBatch({ copyThreshold, slabSize });
          const chunks: Uint8Array[] = [];
          frames.forEach((f, i) => {
            batch.pushFrame(f);
            if (takeAfter.includes(i)) chunks.push(...batch.take());
          });
          chunks.push(...batch.take());
          const bytes = concat(chunks);
          expect(bytes.equals(concat(frames.map((f) => encodeFrame(f))))).toBe(true);
          const decoded = decodeChunks(chunks, 16 * 1024 * 1024);
          expect(decoded.error).toBeUndefined();
          expect(decoded.frames.map(frameToJson)).toStrictEqual(frames.map(frameToJson));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeFrameParts / encodeFrame', () => {
  it('does not copy a DATA or PING payload', () => {
    const payload = Buffer.from('do not copy me');
    const [header, body] = encodeFrameParts(data(payload));
    expect(body).toBe(payload);
    expect(header.length).toBe(HEADER_SIZE);
    const ping = Buffer.alloc(8, 9);
    expect(encodeFrameParts({ type: FrameType.PING, flags: 0, stream: 0, seq: 0, payload: ping })[1]).toBe(ping);
  });

  it('encodeFrame is header followed by payload', () => {
    const payload = Buffer.from('abc');
    const [header] = encodeFrameParts(data(payload));
    expect(encodeFrame(data(payload)).equals(Buffer.concat([header, payload]))).toBe(true);
  });
});

describe('header layout', () => {
  it('field offsets follow ARCHITECTURE.md', () => {
    expect(HeaderOffset).toStrictEqual({ length: 0, type: 4, flags: 5, reserved: 6, stream: 8, seq: 12, crc: 16 });
    expect(HEADER_SIZE).toBe(20);
  });

  it('writes each field big-endian at its offset, with the CRC over bytes 0..15 and the payload', () => {
    const payload = Buffer.from('payload!');
    const h = encodeHeader(0x0a, 0xa5, 0x01020304, 0xfffffffe, payload);
    expect(h.readUInt32BE(HeaderOffset.length)).toBe(8);
    expect(h.readUInt8(HeaderOffset.type)).toBe(0x0a);
    expect(h.readUInt8(HeaderOffset.flags)).toBe(0xa5);
    expect(h.readUInt16BE(HeaderOffset.reserved)).toBe(0);
    expect(h.readUInt32BE(HeaderOffset.stream)).toBe(0x01020304);
    expect(h.readUInt32BE(HeaderOffset.seq)).toBe(0xfffffffe);
    expect(h.readUInt32BE(HeaderOffset.crc)).toBe(zlib.crc32(Buffer.concat([h.subarray(0, 16), payload])));
    expect(encodeHeader(1, 0, 0, 0, new Uint8Array(0)).readUInt32BE(16)).toBe(zlib.crc32(encodeHeader(1, 0, 0, 0, new Uint8Array(0)).subarray(0, 16)));
  });

  it('writeHeader writes 20 bytes at the given offset and nothing else', () => {
    const out = Buffer.alloc(60, 0xcc);
    writeHeader(out, 17, 3, 0, 9, 1, Buffer.from('z'));
    expect(out.subarray(0, 17).every((b) => b === 0xcc)).toBe(true);
    expect(out.subarray(37).every((b) => b === 0xcc)).toBe(true);
    expect(out.subarray(17, 37).equals(encodeHeader(3, 0, 9, 1, Buffer.from('z')))).toBe(true);
  });

  it('readU32 and writeU32 agree with Buffer on every u32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 4 }), (v, at) => {
        const b = Buffer.alloc(8);
        writeU32(b, at, v);
        expect(b.readUInt32BE(at)).toBe(v);
        expect(readU32(b, at)).toBe(v);
      }),
    );
  });
});

describe('crc32', () => {
  const impls = (Object.entries(crc32Implementations) as [Crc32ImplName, ((d: Uint8Array, p?: number) => number) | undefined][]).filter(
    (e): e is [Crc32ImplName, (d: Uint8Array, p?: number) => number] => e[1] !== undefined,
  );

  it('has the pure-JS and zlib implementations at least, and uses one of them', () => {
    expect(impls.map(([n]) => n)).toContain('js');
    expect(impls.map(([n]) => n)).toContain('zlib');
    expect(crc32Implementations[crc32ImplName]).toBeDefined();
  });

  it('every implementation gives the CRC-32/ISO-HDLC check value and 0 for no bytes', () => {
    for (const [name, fn] of impls) {
      expect(fn(Buffer.from('123456789')), name).toBe(0xcbf43926);
      expect(fn(new Uint8Array(0)), name).toBe(0);
    }
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('every implementation leaves a running CRC unchanged on empty input, whatever backs the view', () => {
    // An ArrayBuffer of length 0 has no backing store: node's zlib.crc32 then returned 0.
    const empties = [new Uint8Array(0), new Uint8Array(new ArrayBuffer(0)), Buffer.alloc(0), new Uint8Array(8).subarray(8)];
    for (const [name, fn] of impls) {
      for (const [i, empty] of empties.entries()) {
        for (const previous of [0, 1, 0x7fffffff, 0xd202ef8d, 0xffffffff]) expect(fn(empty, previous), `${name}, empty #${i}`).toBe(previous);
      }
    }
  });

  it('all implementations agree with zlib on random buffers, as unsigned values, and continue a running CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 40 }), (a, b, offset) => {
        // A view that does not start at the beginning of its buffer.
        const padded = new Uint8Array(a.length + offset);
        padded.set(a, offset);
        const view = padded.subarray(offset);
        const whole = zlib.crc32(Buffer.concat([a, b]));
        for (const [name, fn] of impls) {
          const ca = fn(view);
          expect(ca, name).toBe(zlib.crc32(a));
          expect(ca).toBeGreaterThanOrEqual(0);
          expect(fn(b, ca), name).toBe(whole);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('settings bounds', () => {
  it('defaults lie within the bounds', () => {
    expect(invalidSetting(defaultSettings)).toBeUndefined();
    expect(invalidSetting({})).toBeUndefined();
    for (const k of settingKeys) expect(defaultSettings[k]).toBe(settingBounds[k].default);
  });

  for (const k of settingKeys) {
    it(`${settingBounds[k].wire}: accepts [min, max], rejects min-1, max+1 and non-integers`, () => {
      const { min, max, wire } = settingBounds[k];
      expect(invalidSetting({ [k]: min })).toBeUndefined();
      expect(invalidSetting({ [k]: max })).toBeUndefined();
      for (const bad of [min - 1, max + 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(invalidSetting({ [k]: bad }), String(bad)).toContain(wire);
      }
    });
  }

  it('reports the first invalid setting among several', () => {
    expect(invalidSetting({ maxFramePayload: 2048, idleTimeoutMs: -1 })).toContain('idle_timeout_ms');
  });
});

describe('errors.ts', () => {
  const names = Object.keys(ErrorCodes) as ErrorCodeName[];

  it('every wire code is unique and maps back to its name', () => {
    const codes = names.map((n) => ErrorCodes[n].code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const n of names) expect(errorCodeName(ErrorCodes[n].code)).toBe(n);
    expect(errorCodeName(0xdead)).toBeUndefined();
  });

  it('FramewireError carries code, wire code, registry retryability and options', () => {
    const cause = new Error('root');
    const e = new FramewireError('BAD_CRC', 'crc', { streamId: 5, cause, details: { a: 1 } });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('FramewireError');
    expect(e.code).toBe('BAD_CRC');
    expect(e.wireCode).toBe(0x03);
    expect(e.retryable).toBe(true);
    expect(e.remote).toBe(false);
    expect(e.streamId).toBe(5);
    expect(e.cause).toBe(cause);
    expect(e.details).toStrictEqual({ a: 1 });
    expect(new FramewireError('BAD_CRC', 'x', { retryable: false }).retryable).toBe(false);
  });

  it('fromWire: a known code becomes its name, remote, with the registry defaults', () => {
    for (const n of names) {
      const e = FramewireError.fromWire(ErrorCodes[n].code, 'peer said so', { retryAfterMs: 10 });
      expect(e.code).toBe(n);
      expect(e.wireCode).toBe(ErrorCodes[n].code);
      expect(e.remote).toBe(true);
      expect(e.retryable).toBe(ErrorCodes[n].retryable);
      expect(e.retryAfterMs).toBe(10);
      expect(e.message).toBe('peer said so');
    }
  });

  it('fromWire: an unknown code stays visible as PROTOCOL_ERROR with details.unknownCode', () => {
    const e = FramewireError.fromWire(0xbeef, 'mystery', { details: { x: 1 } });
    expect(e.code).toBe('PROTOCOL_ERROR');
    expect(e.remote).toBe(true);
    expect(e.details).toStrictEqual({ x: 1, unknownCode: 0xbeef });
    expect(e.message).toContain('0xbeef');
    expect(e.message).toContain('mystery');
  });

  it('isFramewireError checks the brand, not the shape', () => {
    expect(isFramewireError(new FramewireError('INTERNAL', 'x'))).toBe(true);
    expect(isFramewireError(FramewireError.fromWire(1, 'x'))).toBe(true);
    for (const v of [new Error('x'), { code: 'BAD_CRC', wireCode: 3, name: 'FramewireError' }, null, undefined, 'BAD_CRC', 3]) {
      expect(isFramewireError(v)).toBe(false);
    }
    // A copy from a duplicate module instance carries the same global-registry brand.
    expect(isFramewireError({ [Symbol.for('framewire.error')]: true })).toBe(true);
  });
});

describe('SlabPool', () => {
  it('keeps at most its capacity, and hands slabs back only by size', () => {
    const pool = new SlabPool(2);
    pool.give(Buffer.alloc(64));
    pool.give(Buffer.alloc(128));
    pool.give(Buffer.alloc(64));
    expect(pool.size).toBe(2);
    expect(pool.take(32)).toBeUndefined();
    expect(pool.take(128)?.length).toBe(128);
    expect(pool.take(64)?.length).toBe(64);
    expect(pool.take(64)).toBeUndefined();
    expect(pool.size).toBe(0);
  });

  it('an idle FrameBatch holds no slab until its first frame', () => {
    const pool = new SlabPool(4);
    const batch = new FrameBatch({ slabSize: 1024, pool });
    expect(batch.takeForWrite().chunks).toEqual([]);
    batch.pushFrame(data(Buffer.from('x')));
    const { chunks, written } = batch.takeForWrite();
    expect(chunks).toHaveLength(1);
    written();
    // The slab is still the one being filled: it goes back to the pool only once retired and written.
    expect(pool.size).toBe(0);
  });
});

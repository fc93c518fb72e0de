/**
 * Property tests of the incremental decoder (STYLE.md item 8): random split points, agreement
 * with the reference decoder, decode(encode(x)) = x, every truncated prefix, every single-bit
 * flip, garbage that must never crash nor make the decoder buffer more than one frame, and
 * zero-copy payload views.
 */

import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFramewireError, type FramewireError } from '../../src/errors.ts';
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  MAX_PAYLOAD_CEILING,
  parseFrame,
  type Frame,
  type RawFrame,
} from '../../src/wire/index.ts';
import { allFrameTypes, anyFrame, key, leaf, splitAt, splitPoints, u32, value } from './arbitraries.ts';
import { referenceDecode, type RefResult } from './reference-decoder.ts';
import { bytesToHex, decodeChunks, frameToJson, hexToBytes, validFile } from './vector-json.ts';

const rawJson = (f: RawFrame): unknown => ({ type: f.type, flags: f.flags, stream: f.stream, seq: f.seq, payload: bytesToHex(f.payload) });
const refJson = (r: RefResult): unknown => ({ frames: r.frames.map(rawJson), ignored: r.ignored, error: r.error });

/** The fast decoder alone (no parseFrame), in the reference decoder's result shape. */
function fastRaw(chunks: readonly Uint8Array[], maxPayload: number, afterPush?: (d: FrameDecoder) => void): { frames: RawFrame[]; ignored: number; error: string | undefined } {
  const frames: RawFrame[] = [];
  const d = new FrameDecoder({ maxPayload }, (f) => frames.push(f));
  try {
    for (const c of chunks) {
      d.push(c);
      afterPush?.(d);
    }
    d.end();
  } catch (error) {
    if (!isFramewireError(error)) throw error;
    afterPush?.(d);
    return { frames, ignored: d.ignoredFrames, error: error.code };
  }
  return { frames, ignored: d.ignoredFrames, error: undefined };
}
const fastJson = (r: ReturnType<typeof fastRaw>): unknown => ({ frames: r.frames.map(rawJson), ignored: r.ignored, error: r.error });

const encodeAll = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.map((f) => encodeFrame(f)));

describe('(a) valid frame sequences, cut anywhere', () => {
  it('decode identically with the fast and the reference decoder, and parse back to the original frames', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 8 }), splitPoints, (frames, points) => {
        const bytes = encodeAll(frames);
        const chunks = splitAt(bytes, points);
        const fast = decodeChunks(chunks, MAX_PAYLOAD_CEILING);
        expect(fast.error).toBeUndefined();
        const ref = referenceDecode(bytes);
        expect(ref.error).toBeUndefined();
        expect(fast.raw.map(rawJson)).toStrictEqual(ref.frames.map(rawJson));
        expect(fast.frames.map(frameToJson)).toStrictEqual(frames.map(frameToJson));
      }),
      { numRuns: 2000 },
    );
  });

  it('covers every frame type (sanity check of the generator)', () => {
    const seen = new Set<number>();
    fc.sample(anyFrame, 500).forEach((f) => seen.add(f.type));
    expect([...seen].sort((a, b) => a - b)).toStrictEqual([...allFrameTypes].sort((a, b) => a - b));
  });

  it('mutated streams (bit flips, cuts, inserted bytes) decode to the same frames and error code as the reference', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(anyFrame, { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.oneof(fc.constant(MAX_PAYLOAD_CEILING), fc.integer({ min: 0, max: 300 })),
        splitPoints,
        (frames, mutations, maxPayload, points) => {
          let bytes = encodeAll(frames);
          for (const m of mutations) {
            const at = m.at % (bytes.length + 1);
            if (m.kind === 'flip' && at < bytes.length) bytes[at]! ^= 1 << m.bit;
            else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
            else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
          }
          const fast = fastRaw(splitAt(bytes, points), maxPayload);
          expect(fastJson(fast)).toStrictEqual(refJson(referenceDecode(bytes, maxPayload)));
        },
      ),
      { numRuns: 1500 },
    );
  });
});

/** One frame of every type from the spec vectors, plus a DATA frame large enough to be split often. */
const sampleFrames: { name: string; bytes: Buffer }[] = [
  ...allFrameTypes.map((t) => {
    const v = validFile.frames.find((x) => x.frame.type === t && x.hex.length > 40)!;
    return { name: v.name, bytes: hexToBytes(v.hex) };
  }),
  { name: 'done-empty', bytes: hexToBytes(validFile.frames.find((v) => v.name === 'done-empty')!.hex) },
  { name: 'data-300', bytes: encodeFrame({ type: FrameType.DATA, flags: 1, stream: 3, seq: 9, payload: Buffer.alloc(300, 0x5a) }) },
];

describe('(b) every strict prefix of a frame', () => {
  for (const { name, bytes } of sampleFrames) {
    it(`${name} (${bytes.length} bytes): no frame, end() throws TRUNCATED`, () => {
      for (let k = 1; k < bytes.length; k++) {
        for (const chunks of [[bytes.subarray(0, k)], [bytes.subarray(0, k >> 1), bytes.subarray(k >> 1, k)]]) {
          const frames: RawFrame[] = [];
          const d = new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING }, (f) => frames.push(f));
          for (const c of chunks) d.push(c);
          expect(frames).toHaveLength(0);
          expect(d.atBoundary).toBe(false);
          // Header bytes are counted until the header is complete, then the payload bytes received.
          expect(d.bufferedBytes).toBe(k);
          expect(() => {
            d.end();
          }).toThrow(expect.objectContaining({ code: 'TRUNCATED' }) as Error);
          // The decoder stays failed.
          expect(() => {
            d.push(bytes.subarray(k));
          }).toThrow(expect.objectContaining({ code: 'TRUNCATED' }) as Error);
        }
      }
      // The empty prefix is a boundary, and the whole frame decodes.
      const whole = decodeChunks([bytes], MAX_PAYLOAD_CEILING);
      expect(whole.error).toBeUndefined();
      expect(whole.frames).toHaveLength(1);
      expect(decodeChunks([], MAX_PAYLOAD_CEILING).error).toBeUndefined();
    });
  }
});

describe('(c) every single-bit flip of a frame is detected', () => {
  const maxPayload = 4096;
  for (const v of validFile.frames) {
    it(v.name, () => {
      const bytes = hexToBytes(v.hex);
      const length = bytes.length - HEADER_SIZE;
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const flipped = Buffer.from(bytes);
        flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
        const newLength = flipped.readUInt32BE(0);
        const expected = bit >= 32 ? 'BAD_CRC' : newLength > maxPayload ? 'FRAME_SIZE' : newLength > length ? 'TRUNCATED' : 'BAD_CRC';
        for (const chunks of [[flipped], splitAt(flipped, [7, 19, 23])]) {
          const r = decodeChunks(chunks, maxPayload);
          expect(r.raw, `bit ${bit}`).toHaveLength(0);
          expect(r.error?.code, `bit ${bit}`).toBe(expected);
        }
        expect(referenceDecode(flipped, maxPayload).error).toBe(expected);
      }
    });
  }
});

/** Decodes with optional skipCrc, parsing every frame; checks the buffering bound after each push. */
function decodeGarbage(chunks: readonly Uint8Array[], maxPayload: number, skipCrc: boolean): FramewireError | undefined {
  const d = new FrameDecoder({ maxPayload, skipCrc }, (f) => parseFrame(f));
  const bound = (): void => {
    if (d.bufferedBytes > maxPayload + HEADER_SIZE) throw new Error(`buffered ${d.bufferedBytes} bytes with maxPayload ${maxPayload}`);
  };
  try {
    for (const c of chunks) {
      d.push(c);
      bound();
    }
    d.end();
  } catch (error) {
    bound();
    // Anything but a FramewireError (a TypeError, a RangeError from a buffer) is a crash.
    if (!isFramewireError(error)) throw error;
    return error;
  }
  return undefined;
}

describe('(d) garbage', () => {
  /** Headers with a plausible length (so the decoder reaches CRC, reserved, placement and payload checks). */
  const plausible = fc
    .array(
      fc.record({
        type: fc.oneof(fc.integer({ min: 0, max: 0x0c }), fc.integer({ min: 0, max: 0xff })),
        flags: fc.integer({ min: 0, max: 0xff }),
        reserved: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
        stream: fc.oneof(fc.constant(0), fc.constant(1), u32),
        seq: u32,
        payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 4, maxLength: 9 }), fc.uint8Array({ maxLength: 600 })),
        lengthDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) }),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((frames) =>
      Buffer.concat(
        frames.map((f) => {
          const h = Buffer.alloc(HEADER_SIZE);
          h.writeUInt32BE(Math.max(0, f.payload.length + f.lengthDelta), 0);
          h.writeUInt8(f.type, 4);
          h.writeUInt8(f.flags, 5);
          h.writeUInt16BE(f.reserved, 6);
          h.writeUInt32BE(f.stream, 8);
          h.writeUInt32BE(f.seq, 12);
          h.writeUInt32BE(0, 16); // only meaningful with skipCrc
          return Buffer.concat([h, f.payload]);
        }),
      ),
    );
  const garbage = fc.oneof(fc.uint8Array({ maxLength: 2000 }), plausible);

  it('never throws anything but a FramewireError and never buffers more than maxPayload + 20 bytes', () => {
    fc.assert(
      fc.property(garbage, fc.integer({ min: 0, max: 4096 }), fc.boolean(), splitPoints, (bytes, maxPayload, skipCrc, points) => {
        const chunks = splitAt(bytes, points);
        decodeGarbage(chunks, maxPayload, skipCrc);
        if (!skipCrc) {
          // Without skipCrc the fast decoder must also agree with the reference.
          expect(fastJson(fastRaw(chunks, maxPayload))).toStrictEqual(refJson(referenceDecode(bytes, maxPayload)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('control payloads: random maps with the known keys either parse (and re-encode to the same frame) or are MALFORMED_PAYLOAD', () => {
    const wild = fc.oneof(value, fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: -2, max: 20 }), fc.array(fc.integer({ min: -1, max: 0x10000 }), { maxLength: 18 }));
    const keysOf: Record<number, string[]> = {
      [FrameType.HELLO]: ['versions', 'settings', 'auth', 'agent'],
      [FrameType.OPEN]: ['kind', 'target', 'meta', 'urgency'],
      [FrameType.DONE]: ['digest'],
      [FrameType.ERROR]: ['code', 'message', 'retryable', 'retry_after_ms', 'details'],
      [FrameType.CANCEL]: ['code', 'reason'],
      [FrameType.GOAWAY]: ['last_stream', 'code', 'message', 'deadline_ms'],
    };
    const settingsMap = fc.dictionary(
      fc.oneof(fc.constantFrom('max_frame_payload', 'initial_stream_credit', 'max_concurrent_streams', 'heartbeat_interval_ms', 'idle_timeout_ms'), key),
      fc.oneof(fc.integer({ min: -1, max: 2 ** 32 }), fc.constantFrom(1023, 1024, 16 * 1024 * 1024, 16 * 1024 * 1024 + 1, 3_600_000, 3_600_001), leaf),
      { maxKeys: 4, noNullPrototype: true },
    );
    const control = fc.constantFrom(FrameType.HELLO, FrameType.OPEN, FrameType.DONE, FrameType.ERROR, FrameType.CANCEL, FrameType.GOAWAY).chain((type) =>
      fc
        .dictionary(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...keysOf[type]!) }, { weight: 1, arbitrary: key }), type === FrameType.HELLO ? fc.oneof(wild, settingsMap) : wild, {
          maxKeys: 6,
          noNullPrototype: true,
        })
        .map((map) => ({ type, map })),
    );
    let parsed = 0;
    fc.assert(
      fc.property(control, fc.boolean(), ({ type, map }, asRoot) => {
        const payload = asRoot ? encode(map) : encode(Object.values(map)[0] ?? null);
        const raw: RawFrame = { type, flags: 0, stream: type === FrameType.HELLO || type === FrameType.GOAWAY ? 0 : 1, seq: 0, payload };
        let frame: Frame;
        try {
          frame = parseFrame(raw);
        } catch (error) {
          expect(isFramewireError(error) ? error.code : error).toBe('MALFORMED_PAYLOAD');
          return;
        }
        parsed++;
        // What parsed re-encodes canonically and parses back to the same typed frame.
        const again = decodeChunks([encodeFrame(frame)], MAX_PAYLOAD_CEILING);
        expect(again.error).toBeUndefined();
        expect(again.frames.map(frameToJson)).toStrictEqual([frameToJson(frame)]);
      }),
      { numRuns: 3000 },
    );
    expect(parsed).toBeGreaterThan(100);
  });
});

describe('(e) payload views', () => {
  it('are zero-copy views of the pushed chunk when the frame lies in one chunk', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 6 }), (frames) => {
        const chunk = encodeAll(frames);
        const raw: RawFrame[] = [];
        const parsed: Frame[] = [];
        const d = new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING }, (f) => {
          raw.push(f);
          parsed.push(parseFrame(f));
        });
        d.push(chunk);
        d.end();
        let offset = 0;
        raw.forEach((f, i) => {
          expect(f.payload.buffer).toBe(chunk.buffer);
          expect(f.payload.byteOffset).toBe(chunk.byteOffset + offset + HEADER_SIZE);
          offset += HEADER_SIZE + f.payload.length;
          const p = parsed[i]!;
          if (p.type === FrameType.DATA || p.type === FrameType.PING) expect(p.payload).toBe(f.payload);
        });
        expect(offset).toBe(chunk.length);
      }),
      { numRuns: 300 },
    );
  });

  it('are copies, not views of the chunks, when a frame straddles chunks', () => {
    const bytes = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload: Buffer.from('straddling payload') });
    for (let cut = 1; cut < bytes.length; cut++) {
      const a = Buffer.from(bytes.subarray(0, cut));
      const b = Buffer.from(bytes.subarray(cut));
      const r = decodeChunks([a, b], MAX_PAYLOAD_CEILING);
      expect(r.raw).toHaveLength(1);
      a.fill(0xee);
      b.fill(0xee);
      expect(Buffer.from(r.raw[0]!.payload).toString()).toBe('straddling payload');
    }
  });
});

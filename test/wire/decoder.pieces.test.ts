/**
 * The decoder's `keepPieces` mode (used by the socket transport): a DATA frame that straddles
 * pushed chunks is emitted as views of its pieces instead of a copy. Everything observable must be
 * the same as in copy mode: the same frames, the same payload bytes, the same errors.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFramewireError } from '../../src/errors.ts';
import { encodeFrame, FrameDecoder, FrameType, MAX_PAYLOAD_CEILING, rawPayloadLength, type Frame, type RawFrame } from '../../src/wire/index.ts';
import { anyFrame, splitAt, splitPoints } from './arbitraries.ts';
import { bytesToHex } from './vector-json.ts';

function decode(chunks: readonly Uint8Array[], keepPieces: boolean): { frames: RawFrame[]; error: string | undefined } {
  const frames: RawFrame[] = [];
  const d = new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING, keepPieces }, (f) => frames.push(f));
  try {
    for (const c of chunks) d.push(c);
    d.end();
  } catch (error) {
    if (!isFramewireError(error)) throw error;
    return { frames, error: error.code };
  }
  return { frames, error: undefined };
}

const json = (f: RawFrame): unknown => ({ type: f.type, flags: f.flags, stream: f.stream, seq: f.seq, length: rawPayloadLength(f), payload: bytesToHex(f.payload) });
const joined = (f: RawFrame): string => bytesToHex(f.parts === undefined ? f.payload : Buffer.concat(f.parts));

describe('FrameDecoder keepPieces', () => {
  it('emits the same frames as copy mode, and the parts join to the payload', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 8 }), splitPoints, (frames: Frame[], points) => {
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f)));
        const chunks = splitAt(bytes, points);
        const pieces = decode(chunks, true);
        const copied = decode(chunks, false);
        expect(pieces.error).toBeUndefined();
        expect(pieces.frames.map(json)).toStrictEqual(copied.frames.map(json));
        for (const f of pieces.frames) {
          expect(joined(f)).toBe(bytesToHex(f.payload));
          if (f.parts !== undefined) expect(f.type).toBe(FrameType.DATA);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a straddling DATA frame is views of the pushed chunks, not a copy', () => {
    const payload = Buffer.alloc(65536, 0xab);
    const wire = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload });
    const a = wire.subarray(0, 65536);
    const b = wire.subarray(65536);
    const frames: RawFrame[] = [];
    const d = new FrameDecoder({ maxPayload: 65536, keepPieces: true }, (f) => frames.push(f));
    d.push(a);
    expect(frames).toHaveLength(0);
    d.push(b);
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(f.parts).toHaveLength(2);
    expect(f.parts![0]!.buffer).toBe(a.buffer);
    expect(f.parts![1]!.buffer).toBe(b.buffer);
    expect(rawPayloadLength(f)).toBe(65536);
    expect(Buffer.compare(f.payload, payload)).toBe(0);
  });

  it('a corrupted straddling frame still fails with BAD_CRC', () => {
    const wire = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload: Buffer.alloc(5000, 1) });
    wire[3000] = wire[3000]! ^ 0x10;
    const r = decode([wire.subarray(0, 1000), wire.subarray(1000, 4000), wire.subarray(4000)], true);
    expect(r.error).toBe('BAD_CRC');
    expect(r.frames).toHaveLength(0);
  });
});

/**
 * The incremental frame decoder: bytes in (cut at any point), verified raw frames out.
 *
 * - A frame that lies whole inside a pushed chunk is emitted as a view of that chunk: no copy.
 * - A frame that straddles chunks is assembled in one buffer of exactly its size, allocated only
 *   after its length passed the limit (FW-FRAME-3), so at most one maximum frame is ever buffered.
 * - Checks run in the order of spec §3.3 (FW-FRAME-4): length, then CRC, then reserved bytes, then
 *   type and placement. A corrupted frame thus reports BAD_CRC rather than a misleading symptom.
 * - Unknown frame types are verified and skipped (FW-FRAME-7), counted in `ignoredFrames`.
 *
 * The decoder knows nothing of streams or sessions. After the first error it stays failed: the
 * byte stream has lost its framing and nothing after the bad frame can be trusted.
 */

import { FramewireError, invalidArgument } from '../errors.ts';
import { crc32, crc32Range } from './crc32.ts';
import { FrameType, frameTypeName, isAllowedOn, isKnownFrameType } from './frame-type.ts';
import type { RawFrame } from './frame.ts';
import { readU32 } from './header.ts';
import { CRC_COVERED_HEADER, HEADER_SIZE, MAX_PAYLOAD_CEILING } from './limits.ts';

/** Options of a `FrameDecoder`. */
export interface FrameDecoderOptions {
  /** Largest payload accepted; more is FRAME_SIZE. Adjustable later with `setMaxPayload`. */
  readonly maxPayload: number;
  /** Skip CRC verification. Only for building deliberately broken peers in conformance tests. */
  readonly skipCrc?: boolean;
  /**
   * The caller never modifies a chunk after pushing it (true of socket reads: node hands out a
   * fresh buffer per read). Then a DATA frame that straddles chunks is emitted as views of its
   * pieces (`RawFrame.parts`) rather than copied into a buffer of its own: with 64 KiB socket reads
   * and 64 KiB frames nearly every frame straddles, and the copy (plus the allocation and the GC
   * of a 64 KiB buffer per frame) was the receiver's largest cost after the CRC (bench/e2e).
   */
  readonly keepPieces?: boolean;
}

/** Receives each frame the decoder completes. */
export type FrameHandler = (frame: RawFrame) => void;

/**
 * The incremental frame decoder: push bytes as they arrive, in pieces of any size; each complete, verified
 * frame goes to the handler, and a violation throws a `FramewireError` with its code.
 */
export class FrameDecoder {
  readonly #onFrame: FrameHandler;
  readonly #skipCrc: boolean;
  readonly #keepPieces: boolean;
  #maxPayload: number;

  /** Partial header bytes when a header straddles chunks. */
  readonly #header = Buffer.allocUnsafe(HEADER_SIZE);
  #headerFill = 0;

  /** The frame being assembled once its header is known: into `#payload`, or as views in `#pieces`. */
  #assembling = false;
  #payloadLength = 0;
  #payload: Buffer | undefined;
  #pieces: Uint8Array[] | undefined;
  #payloadFill = 0;
  #type = 0;
  #flags = 0;
  #stream = 0;
  #seq = 0;
  #reserved0 = 0;
  #reserved1 = 0;
  #expectedCrc = 0;
  #runningCrc = 0;

  #failure: FramewireError | undefined;
  #frames = 0;
  #ignored = 0;

  constructor(options: FrameDecoderOptions, onFrame: FrameHandler) {
    this.#maxPayload = checkMaxPayload(options.maxPayload);
    this.#skipCrc = options.skipCrc ?? false;
    this.#keepPieces = options.keepPieces ?? false;
    this.#onFrame = onFrame;
  }

  get maxPayload(): number {
    return this.#maxPayload;
  }

  /** Changes the accepted payload limit, e.g. once the handshake negotiated it. */
  setMaxPayload(maxPayload: number): void {
    this.#maxPayload = checkMaxPayload(maxPayload);
  }

  /** Frames emitted so far. */
  get frameCount(): number {
    return this.#frames;
  }

  /** Frames of unknown type verified and skipped so far. */
  get ignoredFrames(): number {
    return this.#ignored;
  }

  /** Bytes of an incomplete frame received so far, header included (never more than one max frame + header). */
  get bufferedBytes(): number {
    return this.#assembling ? HEADER_SIZE + this.#payloadFill : this.#headerFill;
  }

  /** True when the bytes pushed so far end exactly on a frame boundary. */
  get atBoundary(): boolean {
    return this.#headerFill === 0 && !this.#assembling;
  }

  /**
   * Feeds bytes. Emits every complete frame through the handler before returning.
   * Throws a FramewireError on the first violation; the decoder then stays failed.
   * Payload views handed to the handler alias `chunk`: copy them to keep them past the chunk's life.
   */
  push(chunk: Uint8Array): void {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      this.#consume(chunk);
    } catch (error) {
      if (error instanceof FramewireError) this.#failure = error;
      throw error;
    }
  }

  /** Signals the end of the byte stream: TRUNCATED if it ended inside a frame. */
  end(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.atBoundary) {
      this.#failure = new FramewireError('TRUNCATED', `byte stream ended inside a frame (${this.bufferedBytes} bytes of it received)`);
      throw this.#failure;
    }
  }

  #consume(chunk: Uint8Array): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      if (this.#assembling) {
        at = this.#fillPayload(chunk, at);
        continue;
      }
      if (this.#headerFill === 0 && end - at >= HEADER_SIZE) {
        // Fast path: the header lies inside this chunk.
        const length = readU32(chunk, at);
        this.#checkLength(length);
        const payloadStart = at + HEADER_SIZE;
        if (end - payloadStart >= length) {
          // The whole frame lies inside this chunk: verify in place, emit views.
          const payload = chunk.subarray(payloadStart, payloadStart + length);
          if (!this.#skipCrc) {
            const head = crc32Range(chunk, at, at + CRC_COVERED_HEADER);
            this.#verifyCrc(length === 0 ? head : crc32(payload, head), readU32(chunk, at + 16));
          }
          const type = chunk[at + 4]!;
          const flags = chunk[at + 5]!;
          const stream = readU32(chunk, at + 8);
          const seq = readU32(chunk, at + 12);
          checkHeaderRest(chunk[at + 6]!, chunk[at + 7]!, type, stream);
          at = payloadStart + length;
          this.#emit(type, flags, stream, seq, payload);
          continue;
        }
        this.#beginPayload(chunk, at, length);
        at = payloadStart;
        continue;
      }
      // Slow path: the header straddles chunks.
      const take = Math.min(HEADER_SIZE - this.#headerFill, end - at);
      this.#header.set(chunk.subarray(at, at + take), this.#headerFill);
      this.#headerFill += take;
      at += take;
      if (this.#headerFill < HEADER_SIZE) break;
      const length = readU32(this.#header, 0);
      this.#checkLength(length);
      this.#beginPayload(this.#header, 0, length);
      this.#headerFill = 0;
      if (length === 0) this.#finishPayload();
    }
  }

  #checkLength(length: number): void {
    if (length > this.#maxPayload) {
      throw new FramewireError('FRAME_SIZE', `frame payload of ${length} bytes exceeds the maximum of ${this.#maxPayload}`);
    }
  }

  /** Records the header found at `source[at]` and prepares to assemble the payload (length already checked). */
  #beginPayload(source: Uint8Array, at: number, length: number): void {
    this.#type = source[at + 4]!;
    this.#flags = source[at + 5]!;
    this.#stream = readU32(source, at + 8);
    this.#seq = readU32(source, at + 12);
    this.#expectedCrc = readU32(source, at + 16);
    // Reserved bytes and placement are checked after the CRC, in #finishPayload (FW-FRAME-4).
    this.#reserved0 = source[at + 6]!;
    this.#reserved1 = source[at + 7]!;
    if (!this.#skipCrc) this.#runningCrc = crc32Range(source, at, at + CRC_COVERED_HEADER);
    this.#assembling = true;
    this.#payloadLength = length;
    this.#payloadFill = 0;
    if (this.#keepPieces && this.#type === FrameType.DATA && length > 0) this.#pieces = [];
    else this.#payload = Buffer.allocUnsafe(length);
  }

  #fillPayload(chunk: Uint8Array, at: number): number {
    const take = Math.min(this.#payloadLength - this.#payloadFill, chunk.length - at);
    const piece = chunk.subarray(at, at + take);
    if (this.#pieces !== undefined) this.#pieces.push(piece);
    else this.#payload!.set(piece, this.#payloadFill);
    // Checksum the piece while it is still in cache rather than re-reading the whole frame later.
    if (!this.#skipCrc) this.#runningCrc = crc32(piece, this.#runningCrc);
    this.#payloadFill += take;
    if (this.#payloadFill === this.#payloadLength) this.#finishPayload();
    return at + take;
  }

  #finishPayload(): void {
    const payload = this.#payload;
    const pieces = this.#pieces;
    this.#assembling = false;
    this.#payload = undefined;
    this.#pieces = undefined;
    this.#payloadFill = 0;
    if (!this.#skipCrc) this.#verifyCrc(this.#runningCrc, this.#expectedCrc);
    checkHeaderRest(this.#reserved0, this.#reserved1, this.#type, this.#stream);
    if (pieces !== undefined) {
      // Only DATA is kept in pieces, and DATA is a known type.
      this.#frames++;
      this.#onFrame(new PiecewiseFrame(this.#flags, this.#stream, this.#seq, pieces, this.#payloadLength));
      return;
    }
    this.#emit(this.#type, this.#flags, this.#stream, this.#seq, payload!);
  }

  #verifyCrc(actual: number, expected: number): void {
    if (actual !== expected) {
      throw new FramewireError('BAD_CRC', `frame CRC mismatch: computed 0x${actual.toString(16).padStart(8, '0')}, header says 0x${expected.toString(16).padStart(8, '0')}`);
    }
  }

  #emit(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    if (!isKnownFrameType(type)) {
      this.#ignored++;
      return;
    }
    this.#frames++;
    this.#onFrame({ type, flags, stream, seq, payload });
  }
}

/**
 * A DATA frame that arrived in pieces (decoder option `keepPieces`): `parts` are views of the
 * chunks it straddled, in order. Reading `payload` joins them once (a copy), so code that wants one
 * buffer still gets it; the session reads `parts` and copies nothing.
 */
class PiecewiseFrame implements RawFrame {
  readonly type = FrameType.DATA;
  readonly flags: number;
  readonly stream: number;
  readonly seq: number;
  readonly parts: readonly Uint8Array[];
  readonly payloadLength: number;
  #joined: Uint8Array | undefined;

  constructor(flags: number, stream: number, seq: number, parts: readonly Uint8Array[], payloadLength: number) {
    this.flags = flags;
    this.stream = stream;
    this.seq = seq;
    this.parts = parts;
    this.payloadLength = payloadLength;
  }

  get payload(): Uint8Array {
    this.#joined ??= Buffer.concat(this.parts, this.payloadLength);
    return this.#joined;
  }
}

function checkMaxPayload(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAYLOAD_CEILING) {
    throw invalidArgument(`maxPayload must be an integer in [0, ${MAX_PAYLOAD_CEILING}], got ${n}`);
  }
  return n;
}

/** The checks that follow the CRC (FW-FRAME-4): reserved bytes, then a known type's placement. */
function checkHeaderRest(reserved0: number, reserved1: number, type: number, stream: number): void {
  if (reserved0 !== 0 || reserved1 !== 0) {
    throw new FramewireError('RESERVED_BITS', `reserved header bytes must be 0, got 0x${((reserved0 << 8) | reserved1).toString(16).padStart(4, '0')}`);
  }
  if (isKnownFrameType(type) && !isAllowedOn(type, stream)) {
    throw new FramewireError('WRONG_STREAM_KIND', `${frameTypeName(type)} is not allowed on ${stream === 0 ? 'stream 0' : `stream ${stream}`}`);
  }
}

/**
 * The payload of a PACKED DATA frame (spec §8.2.6): whole messages back to back, each behind a u32
 * big-endian length (FW-PACK-2), as gRPC puts length-prefixed messages in HTTP/2 DATA. The codec
 * only knows the layout; which messages to pack and what a bad payload means is the session's.
 */

import { readU32, writeU32 } from './header.ts';

/** Bytes of the length in front of each packed message. */
export const PACKED_LENGTH_SIZE = 4;

/** What `scanPacked` found: the message count and longest message, or why the payload is malformed. */
export type PackedScan = { readonly ok: true; readonly messages: number; readonly longest: number } | { readonly ok: false; readonly problem: string };

/** Checks that records fill `payload` exactly (FW-PACK-2, FW-PACK-4) without creating any view. */
export function scanPacked(payload: Uint8Array): PackedScan {
  const n = payload.length;
  if (n === 0) return { ok: false, problem: 'PACKED DATA with an empty payload' };
  let messages = 0;
  let longest = 0;
  for (let at = 0; at < n; messages++) {
    if (n - at < PACKED_LENGTH_SIZE) return { ok: false, problem: `PACKED DATA: ${n - at} bytes left after ${messages} messages, too few for a length` };
    const length = readU32(payload, at);
    const left = n - at - PACKED_LENGTH_SIZE;
    if (length > left) return { ok: false, problem: `PACKED DATA: message ${messages} claims ${length} bytes, ${left} are left` };
    if (length > longest) longest = length;
    at += PACKED_LENGTH_SIZE + length;
  }
  return { ok: true, messages, longest };
}

/**
 * Reads the messages of a payload that `scanPacked` accepted, one view at a time, so a receiver
 * can queue the frame as one item and slice messages off as they are read.
 */
export class PackedReader {
  readonly #payload: Uint8Array;
  #at = 0;
  #left: number;

  constructor(payload: Uint8Array, messages: number) {
    this.#payload = payload;
    this.#left = messages;
  }

  /** Messages not yet read. */
  get messagesLeft(): number {
    return this.#left;
  }

  /** Bytes of the messages not yet read, their length fields not included. */
  get bytesLeft(): number {
    return this.#payload.length - this.#at - this.#left * PACKED_LENGTH_SIZE;
  }

  /** The next message, a view of the payload; only while messagesLeft > 0. */
  next(): Uint8Array {
    const start = this.#at + PACKED_LENGTH_SIZE;
    const end = start + readU32(this.#payload, this.#at);
    this.#at = end;
    this.#left--;
    return this.#payload.subarray(start, end);
  }
}

/** Bytes of a fresh slab; a payload larger than this gets a slab of its own size. */
const SLAB_SIZE = 64 * 1024;

/**
 * Writes packed payloads one after another into a shared slab, so packing costs one allocation
 * per 64 KiB rather than one per frame. A region is never written again once `finish` handed it
 * out (the transport may still hold it); a full slab is replaced, and freed by the GC when the last
 * payload in it has been written. With `reuse` (the transport copies each payload before the next
 * is begun) one scratch buffer serves every payload and nothing is allocated.
 */
export class PackedWriter {
  readonly #reuse: boolean;
  #slab: Buffer = Buffer.allocUnsafeSlow(0);
  #start = 0;
  #at = 0;

  constructor(reuse = false) {
    this.#reuse = reuse;
  }

  /** Starts a payload of at most `room` bytes, discarding one begun and not finished. */
  begin(room: number): void {
    if (this.#reuse) this.#start = 0;
    if (this.#slab.length - this.#start < room) {
      this.#slab = Buffer.allocUnsafeSlow(this.#reuse ? room : Math.max(SLAB_SIZE, room));
      this.#start = 0;
    }
    this.#at = this.#start;
  }

  /** Appends one message with its length; the caller keeps within the `room` given to begin(). */
  add(message: Uint8Array): void {
    const at = this.#at;
    writeU32(this.#slab, at, message.length);
    this.#slab.set(message, at + PACKED_LENGTH_SIZE);
    this.#at = at + PACKED_LENGTH_SIZE + message.length;
  }

  /** Bytes added since begin(). */
  get length(): number {
    return this.#at - this.#start;
  }

  /** The payload added since begin(): a view never overwritten, or with `reuse` until the next begin(). */
  finish(): Buffer {
    const payload = this.#slab.subarray(this.#start, this.#at);
    this.#start = this.#at;
    return payload;
  }
}

/** The packed payload of `messages` (in one buffer of their own). */
export function encodePacked(messages: readonly Uint8Array[]): Buffer {
  const writer = new PackedWriter();
  writer.begin(messages.reduce((n, m) => n + PACKED_LENGTH_SIZE + m.length, 0));
  for (const m of messages) writer.add(m);
  return writer.finish();
}

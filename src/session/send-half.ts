/**
 * The sending direction of one stream (spec §8.2): the queue of writes, how they become DATA,
 * PACKED and DONE frames within the credit given, and the waits of writers paced by the send
 * buffer. Credit is the stream's flow object's (StreamFlow); the stream core decides the outcome.
 */

import { FramewireError, toFramewireError } from '../errors.ts';
import { DataFlags, encodeDonePayload, FrameType, PACKED_LENGTH_SIZE, type ControlMap, type PackedWriter } from '../wire/index.ts';
import { checkFits, encodeArgument, isPlainMap } from './control-payload.ts';
import { Fifo } from './fifo.ts';
import { EndOfData, isWholeMessage, Piece, type SendItem } from './queued.ts';
import type { StreamCore } from './stream-core.ts';

/** Which queued messages go into a PACKED frame (spec §8.2.6), from `limits.packMessages` and friends. */
export interface PackingLimits {
  /** Messages longer than this are sent in frames of their own. */
  readonly maxMessage: number;
  /** A PACKED frame's payload never exceeds this (nor max_frame_payload, nor the credit). */
  readonly maxFrame: number;
  /** Where packed payloads are written (shared by the session's streams). */
  readonly writer: PackedWriter;
}

/** A frame the scheduler may send for a stream now. */
export interface Sendable {
  readonly type: typeof FrameType.DATA | typeof FrameType.DONE;
  readonly flags: number;
  /** DATA bytes, or the encoded DONE payload. */
  readonly payload: Uint8Array;
  /** DATA bytes this frame consumes from the stream and connection windows. */
  readonly bytes: number;
  /** A PACKED frame: how many queued messages it carries, and their bytes (without the lengths). Else 0. */
  readonly messages: number;
  readonly messageBytes: number;
}

/** The one Sendable a send half refills per frame. */
class OutgoingFrame implements Sendable {
  type: typeof FrameType.DATA | typeof FrameType.DONE = FrameType.DATA;
  flags = 0;
  payload: Uint8Array = EMPTY;
  bytes = 0;
  messages = 0;
  messageBytes = 0;
}

/** Options of one `Stream.write()`. */
export type WriteOptions = {
  /** False: more writes belong to the same message (the byte-stream view of bulk data). Default true. */
  readonly endOfMessage?: boolean;
};

/** 'open' → 'ending' (DONE queued) → 'ended' (DONE written); 'reset' after ERROR/CANCEL either way. */
export type SendState = 'open' | 'ending' | 'ended' | 'reset';

/** What one queued write costs against writeBuffer besides its bytes: about a frame header. */
const QUEUED_ITEM_COST = 20;

/** Shared by every write() that need not wait: awaiting a settled promise twice is harmless. */
const RESOLVED: Promise<void> = Promise.resolve();

const EMPTY = new Uint8Array(0);

export class SendHalf {
  readonly #core: StreamCore;
  readonly #writeBuffer: number;
  readonly #queue = new Fifo<SendItem>();
  /** Bytes of the head item already sent (a message split over frames). */
  #headOffset = 0;
  /** The last DATA we sent had FOLLOWS set: the head ends a message, it is not one to pack (FW-PACK-2). */
  #midMessage = false;
  #queuedBytes = 0;
  /**
   * What the queue costs against writeBuffer: its bytes plus QUEUED_ITEM_COST per item, so that
   * a loop of empty (or tiny) messages is paced like any other instead of queueing without bound.
   */
  #queuedCost = 0;
  #writeWaiters: (() => void)[] = [];
  #doneWaiters: { resolve: () => void; reject: (e: FramewireError) => void }[] = [];
  #state: SendState = 'open';
  /** One object per stream, refilled per frame: an allocation per frame showed in the GC profile at millions of small messages. */
  readonly #out = new OutgoingFrame();

  constructor(core: StreamCore, writeBuffer: number) {
    this.#core = core;
    this.#writeBuffer = writeBuffer;
  }

  get state(): SendState {
    return this.#state;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  // ---- the application's side ----------------------------------------------------------------

  write(data: Uint8Array, options: WriteOptions | undefined): Promise<void> {
    // A Promise API reports every failure as a rejection, never a throw (STYLE.md 11).
    const problem = this.#writeProblem(data);
    if (problem !== undefined) return Promise.reject(problem);
    return this.#enqueue(data, options) ? RESOLVED : this.#waitForRoom();
  }

  send(data: Uint8Array, options: WriteOptions | undefined): boolean {
    const problem = this.#writeProblem(data);
    if (problem !== undefined) throw problem;
    return this.#enqueue(data, options);
  }

  #enqueue(data: Uint8Array, options: WriteOptions | undefined): boolean {
    const queue = this.#queue;
    // Only the first queued item needs a wake-up: with more, the stream is already scheduled (or
    // waits for a CREDIT that wakes it), and a wake per small message showed in the profile.
    const idle = queue.size === 0;
    queue.push(options?.endOfMessage === false ? new Piece(data) : data);
    this.#queuedBytes += data.length;
    this.#queuedCost += data.length + QUEUED_ITEM_COST;
    if (idle) this.#core.wake();
    return this.#queuedCost <= this.#writeBuffer;
  }

  drained(): Promise<void> {
    const failure = this.#core.failure;
    if (failure !== undefined) return Promise.reject(failure);
    return this.#queuedCost <= this.#writeBuffer ? RESOLVED : this.#waitForRoom();
  }

  #waitForRoom(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#writeWaiters.push(() => {
        const failure = this.#core.failure;
        if (failure !== undefined) reject(failure);
        else resolve();
      });
    });
  }

  end(trailer: ControlMap | undefined): Promise<void> {
    const problem = this.#closedProblem();
    if (problem !== undefined) return Promise.reject(problem);
    let payload: Uint8Array;
    try {
      if (trailer !== undefined && !isPlainMap(trailer)) throw new FramewireError('INVALID_ARGUMENT', 'a DONE trailer must be a plain object (a MessagePack map)');
      payload = encodeArgument('the DONE trailer', () => encodeDonePayload(trailer === undefined ? {} : { trailer }));
      const limit = this.#core.sendLimit();
      if (limit !== undefined) checkFits('the DONE trailer', payload, limit);
    } catch (error) {
      return Promise.reject(toFramewireError(error));
    }
    this.#state = 'ending';
    this.#queue.push(new EndOfData(payload));
    this.#core.wake();
    return new Promise((resolve, reject) => {
      this.#doneWaiters.push({ resolve, reject });
    });
  }

  /** Why write(data) or send(data) cannot be accepted now, or undefined when it can. */
  #writeProblem(data: unknown): FramewireError | undefined {
    if (this.#state !== 'open') return this.#closedProblem();
    if (!(data instanceof Uint8Array)) {
      const id = this.#core.id;
      return new FramewireError('INVALID_ARGUMENT', `stream ${id}: write() takes a Uint8Array (or Buffer), got ${describe(data)}`, { streamId: id });
    }
    return undefined;
  }

  /** Why our direction takes nothing more, or undefined while it is open. */
  #closedProblem(): FramewireError | undefined {
    if (this.#state === 'open') return undefined;
    return this.#core.failure ?? new FramewireError('STREAM_CLOSED', `stream ${this.#core.id}: write after end()`, { streamId: this.#core.id });
  }

  // ---- the scheduler's side ------------------------------------------------------------------

  /** True when a frame could be produced if credit allowed. */
  get hasPending(): boolean {
    return this.#queue.size > 0;
  }

  /** True when the head item is DATA with bytes left but the stream's own credit is 0. */
  get blockedOnStreamCredit(): boolean {
    const item = this.#queue.at(0);
    if (item === undefined || !this.#core.flow.streamCreditExhausted) return false;
    if (isWholeMessage(item)) return this.#headOffset < item.length;
    return item instanceof Piece && this.#headOffset < item.data.length;
  }

  /** The next frame to send within the credit given, or undefined when blocked or empty. The result is reused: valid until the next call. */
  next(maxFramePayload: number, packing: PackingLimits | undefined): Sendable | undefined {
    const item = this.#queue.at(0);
    if (item === undefined) return undefined;
    const out = this.#out;
    out.messages = 0;
    out.messageBytes = 0;
    const whole = isWholeMessage(item);
    if (!whole && item instanceof EndOfData) {
      out.type = FrameType.DONE;
      out.flags = 0;
      out.payload = item.payload;
      out.bytes = 0;
      return out;
    }
    const data = whole ? item : item.data;
    const offset = this.#headOffset;
    const credit = this.#core.flow.sendAvailable;
    if (packing !== undefined && whole && offset === 0 && !this.#midMessage && data.length <= packing.maxMessage) {
      if (this.#pack(out, data, packing, Math.min(maxFramePayload, packing.maxFrame, credit))) return out;
    }
    const remaining = data.length - offset;
    const allowed = Math.min(remaining, maxFramePayload, credit);
    if (allowed <= 0 && remaining > 0) return undefined;
    out.type = FrameType.DATA;
    out.flags = offset + allowed === data.length && whole ? 0 : DataFlags.FOLLOWS;
    out.payload = allowed === data.length ? data : data.subarray(offset, offset + allowed);
    out.bytes = allowed;
    return out;
  }

  /**
   * Fills `out` with a PACKED frame of the whole messages at the head of the queue that fit in
   * `room` bytes (FW-PACK-2). Only what is queued now: nothing waits to be packed. False when fewer
   * than two fit, since one message is cheaper in a plain frame.
   */
  #pack(out: OutgoingFrame, head: Uint8Array, packing: PackingLimits, room: number): boolean {
    const queue = this.#queue;
    const maxMessage = packing.maxMessage;
    // The head fits (checked by the caller); go on only if a second message fits too.
    const second = queue.at(1);
    if (second === undefined || !isWholeMessage(second) || second.length > maxMessage || 2 * PACKED_LENGTH_SIZE + head.length + second.length > room) return false;
    const writer = packing.writer;
    writer.begin(room);
    let total = 0;
    let messages = 0;
    for (; messages < queue.size; messages++) {
      const item = queue.at(messages)!;
      // Only whole messages; the head's offset is 0 (checked by the caller), the others were never sent.
      if (!isWholeMessage(item) || item.length > maxMessage) break;
      const size = PACKED_LENGTH_SIZE + item.length;
      if (total + size > room) break;
      writer.add(item);
      total += size;
    }
    out.type = FrameType.DATA;
    out.flags = DataFlags.PACKED;
    out.payload = writer.finish();
    out.bytes = total;
    out.messages = messages;
    out.messageBytes = total - messages * PACKED_LENGTH_SIZE;
    return true;
  }

  /** The frame from next() was written. True when it was our DONE. */
  sent(sendable: Sendable): boolean {
    if (sendable.type === FrameType.DONE) {
      this.#queue.shift();
      this.#state = 'ended';
      for (const w of this.#doneWaiters.splice(0)) w.resolve();
      return true;
    }
    this.#core.flow.sent(sendable.bytes);
    this.#midMessage = (sendable.flags & DataFlags.FOLLOWS) !== 0;
    if (sendable.messages > 0) {
      // A PACKED frame: whole messages, the lengths cost credit but were never queued bytes.
      this.#queue.drop(sendable.messages);
      this.#queuedBytes -= sendable.messageBytes;
      this.#queuedCost -= sendable.messageBytes + sendable.messages * QUEUED_ITEM_COST;
    } else {
      const item = this.#queue.at(0)!;
      this.#headOffset += sendable.bytes;
      this.#queuedBytes -= sendable.bytes;
      this.#queuedCost -= sendable.bytes;
      if (this.#headOffset === (isWholeMessage(item) ? item.length : (item as Piece).data.length)) {
        this.#headOffset = 0;
        this.#queuedCost -= QUEUED_ITEM_COST;
        this.#queue.shift();
      }
    }
    if (this.#queuedCost <= this.#writeBuffer && this.#writeWaiters.length > 0) {
      for (const w of this.#writeWaiters.splice(0)) w();
    }
    return false;
  }

  /** The stream was reset (ERROR, CANCEL, a refusal, the connection's end): queued data is dropped. */
  reset(): void {
    this.#state = 'reset';
    this.#queue.clear();
    this.#headOffset = 0;
    this.#queuedBytes = 0;
    this.#queuedCost = 0;
  }

  /** After a reset, once the outcome is known: writers wake to see it, end() rejects with `error`. */
  releaseWaiters(error: FramewireError): void {
    for (const w of this.#writeWaiters.splice(0)) w();
    for (const w of this.#doneWaiters.splice(0)) w.reject(error);
  }
}

function describe(v: unknown): string {
  return typeof v === 'object' ? Object.prototype.toString.call(v).slice(8, -1) : typeof v;
}

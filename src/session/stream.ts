/**
 * One framewire stream: two directions, each ending on its own, and exactly one outcome (spec §8.2).
 *
 * The application sees messages (`for await (const m of stream)`), a byte-stream view
 * (`stream.chunks()`), `write()` that waits while the stream's send buffer is full, `end()`,
 * `cancel()`, `fail()`, an AbortSignal that fires when the stream ends unsuccessfully, and
 * `outcome`, a promise that never rejects. The session drives the `_`-prefixed methods; they are
 * not part of the public API.
 */

import type { Logger } from 'pino';
import { FramewireError, toFramewireError, type ErrorCodeName } from '../errors.ts';
import { ReceiveWindow, SendCredit } from '../flow/index.ts';
import { DataFlags, encodeDonePayload, FrameType, MIN_MAX_PAYLOAD, PACKED_LENGTH_SIZE, PackedReader, PackedWriter, scanPacked, type ControlMap } from '../wire/index.ts';
import { asText, cancelPayload, checkCode, checkFits, encodeArgument, isPlainMap, isUint, streamErrorPayload } from './control-payload.ts';
import { Fifo } from './fifo.ts';
import { EndOfData, isWholeMessage, Piece, receivedBytes, type Received, type ReceivedItem, type SendItem } from './queued.ts';
import { END, StreamReader } from './stream-reader.ts';
import type { StreamOutcome } from './outcome.ts';

/** What a stream needs from its session. */
export interface StreamHost {
  readonly now: () => number;
  readonly rttMs: () => number;
  /** The stream has something sendable (data, DONE) or was unblocked. */
  wake(stream: Stream): void;
  /** Queue a stream-level control frame (CREDIT, ACK, CANCEL, ERROR) ahead of data; CANCEL and ERROR come encoded. */
  control(stream: Stream, type: StreamControlType, payload: unknown): void;
  /** The peer's max_frame_payload once the handshake told it; undefined before (FW-FRAME-3). */
  sendLimit(): number | undefined;
  /** The application consumed bytes: return connection-level credit. */
  consumed(bytes: number): void;
  /** The stream reached its outcome (for counters and logs). */
  settled(stream: Stream, outcome: StreamOutcome): void;
  /** The stream reached its outcome and holds no unread data: release its slot. */
  release(stream: Stream): void;
  readonly logger: Logger;
  /** How we may pack small messages into one DATA frame (spec §8.2.6); undefined: we may not (yet). Set at the handshake. */
  packing: PackingLimits | undefined;
}

/** Which queued messages go into a PACKED frame (spec §8.2.6), from `limits.packMessages` and friends. */
export interface PackingLimits {
  /** Messages longer than this are sent in frames of their own. */
  readonly maxMessage: number;
  /** A PACKED frame's payload never exceeds this (nor max_frame_payload, nor the credit). */
  readonly maxFrame: number;
  /** Where packed payloads are written (shared by the session's streams). */
  readonly writer: PackedWriter;
}


export type StreamControlType = typeof FrameType.CREDIT | typeof FrameType.ACK | typeof FrameType.CANCEL | typeof FrameType.ERROR;

export interface StreamInit {
  readonly id: number;
  readonly local: boolean;
  readonly kind: string;
  readonly target: string | undefined;
  readonly meta: ControlMap | undefined;
  readonly urgency: number;
  /** The peer's initial_stream_credit: what we may send before its first CREDIT. */
  readonly sendCredit: number;
  /** Our initial_stream_credit and the auto-tuning ceiling. */
  readonly receiveWindow: number;
  readonly maxReceiveWindow: number;
  /** Our max_message_size (0 = unlimited). */
  readonly maxMessageSize: number;
  readonly writeBuffer: number;
  /** Local streams: the OPEN payload, encoded when open() was called. */
  readonly openPayload?: Uint8Array;
}

/** A frame the scheduler may send for this stream now. */
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

/** Options of one `Stream.write()`. */
export type WriteOptions = {
  /** False: more writes belong to the same message (the byte-stream view of bulk data). Default true. */
  readonly endOfMessage?: boolean;
};

/** What one queued write costs against writeBuffer besides its bytes: about a frame header. */
const QUEUED_ITEM_COST = 20;

/** Shared by every write() that need not wait: awaiting a settled promise twice is harmless. */
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * One stream of a connection: messages in both directions with credit flow control, and exactly one end
 * (done, error or cancel). Iterate it for the messages it receives; `write()` and `send()` send, `end()`
 * finishes the sending side, `outcome` says how the stream ended. Members whose names start with `_` are
 * internal.
 */
export class Stream implements AsyncIterable<Uint8Array> {
  readonly id: number;
  /** True when this side opened the stream. */
  readonly local: boolean;
  readonly kind: string;
  readonly target: string | undefined;
  readonly meta: ControlMap | undefined;
  readonly urgency: number;
  /** Fires when the stream ends unsuccessfully (failed or cancelled): producers stop on it. */
  readonly signal: AbortSignal;
  /** Resolves once with how the stream ended; never rejects. */
  readonly outcome: Promise<StreamOutcome>;

  /** @internal */ readonly _sendCredit: SendCredit;
  /** @internal */ readonly _receiveWindow: ReceiveWindow;
  /** @internal */ _sendSeq = 0;
  /** @internal */ _receiveSeq = 0;
  /** @internal OPEN was written (local streams); DATA may follow. */
  _opened: boolean;
  /** @internal Local streams: the encoded OPEN payload. */
  readonly _openPayload: Uint8Array | undefined;

  readonly #host: StreamHost;
  readonly #abort = new AbortController();
  readonly #maxMessageSize: number;
  readonly #writeBuffer: number;
  #resolveOutcome!: (outcome: StreamOutcome) => void;
  #settled: StreamOutcome | undefined;

  readonly #sendQueue = new Fifo<SendItem>();
  /** Bytes of the head item already sent (a message split over frames). */
  #headOffset = 0;
  /** The last DATA we sent had FOLLOWS set: the head ends a message, it is not one to pack (FW-PACK-2). */
  #sendMidMessage = false;
  #queuedBytes = 0;
  /**
   * What the queue costs against writeBuffer: its bytes plus QUEUED_ITEM_COST per item, so that
   * a loop of empty (or tiny) messages is paced like any other instead of queueing without bound.
   */
  #queuedCost = 0;
  #writeWaiters: (() => void)[] = [];
  #doneWaiters: { resolve: () => void; reject: (e: FramewireError) => void }[] = [];
  /** 'open' → 'ending' (DONE queued) → 'ended' (DONE written); 'reset' after ERROR/CANCEL either way. */
  #sendState: 'open' | 'ending' | 'ended' | 'reset' = 'open';
  #receiveState: 'open' | 'ended' | 'reset' = 'open';

  readonly #received = new Fifo<ReceivedItem>();
  /** Bytes the application has read and the windows have not yet been told of (below CONSUME_BATCH). */
  #unconsumed = 0;
  /** Report consumption once this many read bytes are unreported: min(CONSUME_BATCH, window / 16), as of the last report. */
  #consumeBatch = 0;
  #messageBytes = 0;
  #messageOpen = false;
  /** Readers waiting for a chunk or the end: several iterators may wait at once, none is lost. */
  #readers: (() => void)[] = [];
  /** The read() in progress: read() calls are served one after another, in call order. */
  #lastRead: Promise<Uint8Array | undefined> | undefined;
  #trailer: ControlMap | undefined;
  #lastAck: number | undefined;
  #released = false;

  /** @internal Streams are made by the session: `Connection.open()`, or a stream handler for the peer's. */
  constructor(host: StreamHost, init: StreamInit) {
    this.#host = host;
    this.id = init.id;
    this.local = init.local;
    this.kind = init.kind;
    this.target = init.target;
    this.meta = init.meta;
    this.urgency = init.urgency;
    this._opened = !init.local;
    this._openPayload = init.openPayload;
    this._sendCredit = new SendCredit(init.sendCredit);
    this._receiveWindow = new ReceiveWindow({ initial: init.receiveWindow, max: init.maxReceiveWindow, label: `stream ${init.id}` });
    this.#consumeBatch = Math.min(CONSUME_BATCH, this._receiveWindow.window >>> 4);
    this.#maxMessageSize = init.maxMessageSize;
    this.#writeBuffer = init.writeBuffer;
    this.signal = this.#abort.signal;
    this.outcome = new Promise((resolve) => {
      this.#resolveOutcome = resolve;
    });
  }

  #log: Logger | undefined;

  /** A logger bound to this stream's connection and id (created on first use: most streams never log). */
  get log(): Logger {
    this.#log ??= this.#host.logger.child({ stream: this.id, kind: this.kind });
    return this.#log;
  }

  /** The peer's DONE trailer, once the read side completed. */
  get trailer(): ControlMap | undefined {
    return this.#trailer;
  }

  /** The highest seq the peer acknowledged with ACK, if any. */
  get lastAck(): number | undefined {
    return this.#lastAck;
  }

  /** Bytes queued for sending (not yet handed to the transport). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Bytes received and not yet read by the application: bounded by the receive window. */
  get bufferedBytes(): number {
    return this._receiveWindow.buffered - this.#unconsumed;
  }

  get ended(): boolean {
    return this.#settled !== undefined;
  }

  /** How the stream ended, known at once (`outcome` settles a microtask later); 'open' until then. */
  get status(): 'open' | StreamOutcome['status'] {
    return this.#settled?.status ?? 'open';
  }

  /** True while write(), send() and end() are allowed: our direction has not ended and the stream has no outcome. */
  get writable(): boolean {
    return this.#sendState === 'open';
  }

  // ---- writing -------------------------------------------------------------------------------

  /**
   * Queues one message (or part of one, with endOfMessage: false). Resolves when the stream's send
   * buffer has room again, so `await stream.write(x)` in a loop is naturally paced by the peer's
   * credit. The payload is not copied (as with node's socket.write): it may still be queued after
   * the promise resolved, so keep it unchanged until the stream has ended, or write a copy when the
   * buffer is to be reused.
   */
  write(data: Uint8Array, options?: WriteOptions): Promise<void> {
    // A Promise API reports every failure as a rejection, never a throw (STYLE.md 11).
    const problem = this.#writeProblem(data);
    if (problem !== undefined) return Promise.reject(problem);
    return this.#enqueue(data, options) ? RESOLVED : this.#waitForRoom();
  }

  /**
   * Queues one message like write(), and tells whether the send buffer still has room: when it
   * returns false, `await stream.drained()` before sending more (node's `write()`/'drain'
   * contract). For producers of many small messages: no promise per message. The payload is not
   * copied, as with write().
   */
  send(data: Uint8Array, options?: WriteOptions): boolean {
    const problem = this.#writeProblem(data);
    if (problem !== undefined) throw problem;
    return this.#enqueue(data, options);
  }

  #enqueue(data: Uint8Array, options: WriteOptions | undefined): boolean {
    const queue = this.#sendQueue;
    // Only the first queued item needs a wake-up: with more, the stream is already scheduled (or
    // waits for a CREDIT that wakes it), and a wake per small message showed in the profile.
    const idle = queue.size === 0;
    queue.push(options?.endOfMessage === false ? new Piece(data) : data);
    this.#queuedBytes += data.length;
    this.#queuedCost += data.length + QUEUED_ITEM_COST;
    if (idle) this.#host.wake(this);
    return this.#queuedCost <= this.#writeBuffer;
  }

  /** Resolves once the send buffer has room (at once if it has); rejects if the stream failed or was cancelled. */
  drained(): Promise<void> {
    if (this.#settled !== undefined && this.#settled.status !== 'completed') return Promise.reject(this.#settled.error);
    return this.#queuedCost <= this.#writeBuffer ? RESOLVED : this.#waitForRoom();
  }

  #waitForRoom(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#writeWaiters.push(() => {
        if (this.#settled !== undefined && this.#settled.status !== 'completed') reject(this.#settled.error);
        else resolve();
      });
    });
  }

  /**
   * Ends our direction with DONE after all queued data (FW-STREAM-4). Resolves when DONE was written.
   * The trailer is encoded now: one that cannot be encoded rejects with INVALID_ARGUMENT, one larger
   * than the peer's max_frame_payload with MESSAGE_TOO_LARGE, and the stream stays writable.
   */
  end(trailer?: ControlMap): Promise<void> {
    const problem = this.#closedProblem();
    if (problem !== undefined) return Promise.reject(problem);
    let payload: Uint8Array;
    try {
      if (trailer !== undefined && !isPlainMap(trailer)) throw new FramewireError('INVALID_ARGUMENT', 'a DONE trailer must be a plain object (a MessagePack map)');
      payload = encodeArgument('the DONE trailer', () => encodeDonePayload(trailer === undefined ? {} : { trailer }));
      const limit = this.#host.sendLimit();
      if (limit !== undefined) checkFits('the DONE trailer', payload, limit);
    } catch (error) {
      return Promise.reject(toFramewireError(error));
    }
    this.#sendState = 'ending';
    this.#sendQueue.push(new EndOfData(payload));
    this.#host.wake(this);
    return new Promise((resolve, reject) => {
      this.#doneWaiters.push({ resolve, reject });
    });
  }

  /** We no longer want the stream: CANCEL jumps the queue, queued data is dropped, the outcome is 'cancelled'. */
  cancel(reason?: string): void {
    if (this.#settled !== undefined) return;
    const text = reason === undefined ? undefined : asText(reason);
    this.#host.control(this, FrameType.CANCEL, cancelPayload(text, this.#host.sendLimit() ?? MIN_MAX_PAYLOAD));
    const error = new FramewireError('CANCELLED', text ?? 'cancelled locally', { streamId: this.id });
    this._reset({ status: 'cancelled', error });
  }

  /**
   * Ends the stream with a coded ERROR frame; the outcome is 'failed' (local). The message is
   * shortened to fit the peer's max_frame_payload; an unregistered code, a retry hint that is not an
   * unsigned integer or details that cannot be encoded throw INVALID_ARGUMENT (details too large to
   * fit at all: MESSAGE_TOO_LARGE), and the stream is left as it was.
   */
  fail(code: ErrorCodeName, message: string, options: { retryAfterMs?: number; details?: ControlMap; retryable?: boolean } = {}): void {
    if (this.#settled !== undefined) return;
    checkCode(code);
    if (options.retryAfterMs !== undefined && !isUint(options.retryAfterMs)) throw new FramewireError('INVALID_ARGUMENT', `retryAfterMs must be an unsigned integer, got ${String(options.retryAfterMs)}`);
    if (options.retryable !== undefined && typeof options.retryable !== 'boolean') throw new FramewireError('INVALID_ARGUMENT', 'retryable must be a boolean');
    if (options.details !== undefined && !isPlainMap(options.details)) throw new FramewireError('INVALID_ARGUMENT', 'error details must be a plain object (a MessagePack map)');
    const error = new FramewireError(code, asText(message), { streamId: this.id, ...options });
    const payload = streamErrorPayload(error, this.#host.sendLimit() ?? MIN_MAX_PAYLOAD);
    this.#host.control(this, FrameType.ERROR, payload);
    this._reset({ status: 'failed', error });
  }

  /** Sends ACK: every frame up to `seq` we received on this stream was processed (FW-STREAM-9). */
  ack(seq: number): void {
    if (this.#settled !== undefined) return;
    this.#host.control(this, FrameType.ACK, seq);
  }

  /** Why write(data) or send(data) cannot be accepted now, or undefined when it can. */
  #writeProblem(data: unknown): FramewireError | undefined {
    if (this.#sendState !== 'open') return this.#closedProblem();
    if (!(data instanceof Uint8Array)) return new FramewireError('INVALID_ARGUMENT', `stream ${this.id}: write() takes a Uint8Array (or Buffer), got ${describe(data)}`, { streamId: this.id });
    return undefined;
  }

  /** Why our direction takes nothing more, or undefined while it is open. */
  #closedProblem(): FramewireError | undefined {
    if (this.#sendState === 'open') return undefined;
    if (this.#settled !== undefined && this.#settled.status !== 'completed') return this.#settled.error;
    return new FramewireError('STREAM_CLOSED', `stream ${this.id}: write after end()`, { streamId: this.id });
  }

  // ---- reading -------------------------------------------------------------------------------

  /** Whole messages, reassembled from FOLLOWS chains. Ends on DONE; throws on error or cancel. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return new StreamReader<Uint8Array>(this.#pollChunk, this.#waitForChunk, 'messages');
  }

  /**
   * The byte-stream view: DATA payloads as they arrive, without waiting for message ends. Over a
   * socket, a payload that straddled two reads comes as its two pieces (views, not copies): chunk
   * boundaries are not frame boundaries.
   */
  chunks(): AsyncIterableIterator<Uint8Array> {
    return new StreamReader<Uint8Array>(this.#pollChunk, this.#waitForChunk, 'chunks');
  }

  /**
   * Whole messages in batches: each step yields the whole messages received so far (at least
   * one, at most 1024), in order. For consumers of many small messages: one await per batch rather
   * than per message (bench/README.md: 64-byte messages).
   */
  batches(): AsyncIterableIterator<Uint8Array[]> {
    return new StreamReader<Uint8Array[]>(this.#pollChunk, this.#waitForChunk, 'batches');
  }

  /**
   * Reads one whole message, or undefined when the peer ended its direction. Calls made before the
   * previous one settled wait their turn: each gets the next message, in call order.
   */
  read(): Promise<Uint8Array | undefined> {
    const previous = this.#lastRead;
    const mine = previous === undefined ? this.#readOne() : previous.then(this.#readOne, this.#readOne);
    this.#lastRead = mine;
    const clear = (): void => {
      if (this.#lastRead === mine) this.#lastRead = undefined;
    };
    mine.then(clear, clear);
    return mine;
  }

  readonly #readOne = async (): Promise<Uint8Array | undefined> => {
    const r = await this[Symbol.asyncIterator]().next();
    // Leave the reader: a whole message was taken from the queue, so nothing is left half-read.
    return r.done === true ? undefined : r.value;
  };

  /**
   * The next received chunk, credited as consumed; END at DONE; undefined when none is queued yet.
   * Throws when the stream failed. Synchronous, so a reader that finds data queued costs no await.
   */
  readonly #pollChunk = (): Received | typeof END | undefined => {
    const head = this.#received.at(0);
    if (head !== undefined) {
      let chunk: Received;
      let length: number;
      if (isWholeMessage(head)) {
        chunk = head;
        length = head.length;
        this.#received.shift();
      } else if (head instanceof PackedReader) {
        chunk = head.next();
        length = chunk.length;
        if (head.messagesLeft === 0) this.#received.shift();
      } else {
        chunk = head;
        length = head.data.length;
        this.#received.shift();
      }
      // Consumption is reported in batches of at most 1/16 window (and whenever the queue runs
      // dry): two window updates per small message showed in the profile, and CREDIT goes out per
      // half window anyway (FW-FLOW-4), so it is late by at most 1/16 of a window.
      this.#unconsumed += length;
      if (this.#unconsumed >= this.#consumeBatch || this.#received.size === 0) {
        this.#consume(this.#unconsumed);
        this.#unconsumed = 0;
        this.#consumeBatch = Math.min(CONSUME_BATCH, this._receiveWindow.window >>> 4);
      }
      return chunk;
    }
    if (this.#receiveState === 'ended') {
      this.#maybeRelease();
      return END;
    }
    if (this.#receiveState === 'reset') {
      const s = this.#settled;
      if (s !== undefined && s.status !== 'completed') throw s.error;
      return END;
    }
    return undefined;
  };

  /** Resolves when a chunk arrives or the read side ends. */
  readonly #waitForChunk = (): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#readers.push(resolve);
    });

  #consume(bytes: number): void {
    if (bytes === 0) return;
    if (this.#receiveState === 'open') {
      const limit = this._receiveWindow.consume(bytes, this.#host.now, this.#host.rttMs);
      if (limit !== undefined) this.#host.control(this, FrameType.CREDIT, limit);
    }
    this.#host.consumed(bytes);
  }

  #wakeReader(): void {
    const readers = this.#readers;
    if (readers.length === 0) return;
    if (readers.length === 1) {
      const reader = readers[0]!;
      readers.length = 0;
      reader();
      return;
    }
    this.#readers = [];
    // Each re-polls in turn: the first takes what arrived, the others wait again.
    for (const reader of readers) reader();
  }

  // ---- driven by the session -----------------------------------------------------------------

  /** @internal The next frame to send within the credit given, or undefined when blocked or empty. The result is reused: valid until the next call. */
  _nextSendable(maxFramePayload: number, connectionCredit: number): Sendable | undefined {
    const item = this.#sendQueue.at(0);
    if (item === undefined || !this._opened) return undefined;
    // One object per stream, refilled per frame (valid until the next call): the pump uses it at
    // once, and an allocation per frame showed in the GC profile at millions of small messages.
    const out = this.#sendable;
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
    const packing = this.#host.packing;
    if (packing !== undefined && whole && offset === 0 && !this.#sendMidMessage && data.length <= packing.maxMessage) {
      const room = Math.min(maxFramePayload, packing.maxFrame, this._sendCredit.available, connectionCredit);
      if (this.#pack(out, packing, room)) return out;
    }
    const remaining = data.length - offset;
    const allowed = Math.min(remaining, maxFramePayload, this._sendCredit.available, connectionCredit);
    if (allowed <= 0 && remaining > 0) return undefined;
    const last = offset + allowed === data.length;
    out.type = FrameType.DATA;
    out.flags = last && whole ? 0 : DataFlags.FOLLOWS;
    out.payload = allowed === data.length ? data : data.subarray(offset, offset + allowed);
    out.bytes = allowed;
    return out;
  }

  readonly #sendable: { -readonly [K in keyof Sendable]: Sendable[K] } = { type: FrameType.DATA, flags: 0, payload: EMPTY, bytes: 0, messages: 0, messageBytes: 0 };

  /**
   * Fills `out` with a PACKED frame of the whole messages at the head of the queue that fit in
   * `room` bytes (FW-PACK-2). Only what is queued now: nothing waits to be packed. False when fewer
   * than two fit, since one message is cheaper in a plain frame.
   */
  #pack(out: { -readonly [K in keyof Sendable]: Sendable[K] }, packing: PackingLimits, room: number): boolean {
    const queue = this.#sendQueue;
    const maxMessage = packing.maxMessage;
    // The head fits (checked by the caller); go on only if a second message fits too.
    const head = queue.at(0) as Uint8Array;
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

  /** @internal The frame from _nextSendable was written. */
  _sent(sendable: Sendable): void {
    if (sendable.type === FrameType.DONE) {
      this.#sendQueue.shift();
      this.#sendState = 'ended';
      for (const w of this.#doneWaiters.splice(0)) w.resolve();
      this.#maybeComplete();
      return;
    }
    this._sendCredit.consume(sendable.bytes);
    this.#sendMidMessage = (sendable.flags & DataFlags.FOLLOWS) !== 0;
    if (sendable.messages > 0) {
      // A PACKED frame: whole messages, the lengths cost credit but were never queued bytes.
      this.#sendQueue.drop(sendable.messages);
      this.#queuedBytes -= sendable.messageBytes;
      this.#queuedCost -= sendable.messageBytes + sendable.messages * QUEUED_ITEM_COST;
    } else {
      const item = this.#sendQueue.at(0) as Uint8Array | Piece;
      this.#headOffset += sendable.bytes;
      this.#queuedBytes -= sendable.bytes;
      this.#queuedCost -= sendable.bytes;
      if (this.#headOffset === (isWholeMessage(item) ? item.length : item.data.length)) {
        this.#headOffset = 0;
        this.#queuedCost -= QUEUED_ITEM_COST;
        this.#sendQueue.shift();
      }
    }
    if (this.#queuedCost <= this.#writeBuffer && this.#writeWaiters.length > 0) {
      for (const w of this.#writeWaiters.splice(0)) w();
    }
  }

  /** @internal True when a frame could be produced if credit allowed. */
  get _hasPending(): boolean {
    return this.#sendQueue.size > 0;
  }

  /** @internal True when the head item is DATA with bytes left but the stream's own credit is 0. */
  get _blockedOnStreamCredit(): boolean {
    const item = this.#sendQueue.at(0);
    if (item === undefined || this._sendCredit.available > 0) return false;
    if (isWholeMessage(item)) return this.#headOffset < item.length;
    return item instanceof Piece && this.#headOffset < item.data.length;
  }

  /** @internal DATA arrived (seq and placement already checked; credit checked by the caller). */
  _onData(payload: Uint8Array, flags: number, parts?: readonly Uint8Array[]): void {
    if (this.#receiveState !== 'open') return;
    if ((flags & DataFlags.PACKED) !== 0) {
      this.#onPacked(parts === undefined ? payload : Buffer.concat(parts), flags);
      return;
    }
    const endOfMessage = (flags & DataFlags.FOLLOWS) === 0;
    // A payload that arrived in pieces (RawFrame.parts) is queued as its pieces: no copy.
    const length = parts === undefined ? payload.length : sumLengths(parts);
    this.#messageBytes += length;
    if (this.#maxMessageSize > 0 && this.#messageBytes > this.#maxMessageSize) {
      // This frame is never queued, so never read: give its connection credit back now (FW-FLOW-7).
      this.#host.consumed(length);
      this.fail('MESSAGE_TOO_LARGE', `message exceeds max_message_size ${this.#maxMessageSize}`);
      return;
    }
    this.#messageOpen = !endOfMessage;
    if (endOfMessage) this.#messageBytes = 0;
    if (parts === undefined) {
      this.#received.push(endOfMessage ? payload : new Piece(payload));
    } else {
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) this.#received.push(new Piece(parts[i]!));
      this.#received.push(endOfMessage ? parts[last]! : new Piece(parts[last]!));
    }
    this.#wakeReader();
  }

  /**
   * A PACKED frame (spec §8.2.6): checked whole before any of its messages is queued (FW-PACK-4,
   * FW-PACK-5), then queued for reading one message per record (FW-PACK-3), views of the payload, no copy.
   * The lengths count as consumed now: the application never reads them (FW-FLOW-4).
   */
  #onPacked(payload: Uint8Array, flags: number): void {
    let problem: string | undefined;
    if ((flags & DataFlags.FOLLOWS) !== 0) problem = 'PACKED DATA with FOLLOWS set';
    else if (this.#messageOpen) problem = 'PACKED DATA inside an unfinished message (the previous DATA had FOLLOWS set)';
    const scan = problem === undefined ? scanPacked(payload) : undefined;
    if (scan?.ok !== true || (this.#maxMessageSize > 0 && scan.longest > this.#maxMessageSize)) {
      // Never queued, so never read: give its connection credit back now (FW-FLOW-7).
      this.#host.consumed(payload.length);
      if (scan?.ok === true) this.fail('MESSAGE_TOO_LARGE', `a packed message of ${scan.longest} bytes exceeds max_message_size ${this.#maxMessageSize}`);
      else this.fail('PROTOCOL_ERROR', problem ?? (scan as { problem: string }).problem);
      return;
    }
    // Queued whole: its messages are sliced off as they are read, not one queue slot each now.
    this.#received.push(new PackedReader(payload, scan.messages));
    this.#consume(scan.messages * PACKED_LENGTH_SIZE);
    this.#wakeReader();
  }

  /** @internal The peer's DONE. */
  _onDone(trailer: ControlMap | undefined): void {
    if (this.#receiveState !== 'open') return;
    if (this.#messageOpen) {
      this.fail('PROTOCOL_ERROR', 'DONE received inside an unfinished message (FOLLOWS was set)');
      return;
    }
    this.#receiveState = 'ended';
    this.#trailer = trailer;
    this.#wakeReader();
    this.#maybeComplete();
  }

  /** @internal The peer's ACK. */
  _onAck(seq: number): void {
    this.#lastAck = seq;
  }

  /** @internal DATA may not arrive after the peer's DONE (FW-STREAM-7). */
  get _receiveEnded(): boolean {
    return this.#receiveState !== 'open';
  }

  /**
   * @internal Ends both directions now: after a CANCEL or ERROR (sent or received), a refusal, a
   * GOAWAY, or the loss of the connection. Queued data is dropped, waiters are released with the error.
   */
  _reset(outcome: StreamOutcome): void {
    if (this.#settled !== undefined) return;
    this.#sendState = 'reset';
    if (this.#receiveState === 'open') this.#receiveState = 'reset';
    this.#sendQueue.clear();
    this.#headOffset = 0;
    this.#queuedBytes = 0;
    this.#queuedCost = 0;
    this.#settle(outcome);
    for (const w of this.#writeWaiters.splice(0)) w();
    const error = outcome.status === 'completed' ? new FramewireError('STREAM_CLOSED', 'stream closed') : outcome.error;
    for (const w of this.#doneWaiters.splice(0)) w.reject(error);
    this.#wakeReader();
    this.#maybeRelease();
  }

  #maybeComplete(): void {
    if (this.#sendState === 'ended' && this.#receiveState === 'ended') {
      this.#settle({ status: 'completed', trailer: this.#trailer });
      this.#maybeRelease();
    }
  }

  #settle(outcome: StreamOutcome): void {
    this.#settled = outcome;
    this.#host.settled(this, outcome);
    if (outcome.status !== 'completed') this.#abort.abort(outcome.error);
    this.#resolveOutcome(outcome);
  }

  /** Keeps the stream's slot until its outcome is known and the application read everything (FW-LIMIT-1). */
  #maybeRelease(): void {
    if (this.#released || this.#settled === undefined) return;
    const unread = this.#received.size;
    // The peer's direction ended with DONE: what it sent is complete and stays readable even if
    // the stream then failed (our direction, or the connection). Dropping it would let a reader
    // see a clean end with messages missing.
    if (unread > 0 && (this.#settled.status === 'completed' || this.#receiveState === 'ended')) return;
    if (unread > 0) {
      // Nobody will read these: give their connection credit back now.
      let bytes = this.#unconsumed;
      this.#unconsumed = 0;
      for (let item = this.#received.shift(); item !== undefined; item = this.#received.shift()) bytes += receivedBytes(item);
      this.#host.consumed(bytes);
    }
    this.#released = true;
    this.#host.release(this);
  }
}

const EMPTY = new Uint8Array(0);

function describe(v: unknown): string {
  return typeof v === 'object' ? Object.prototype.toString.call(v).slice(8, -1) : typeof v;
}

function sumLengths(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Read bytes reported to the flow-control windows at once (unless the queue runs dry first). */
const CONSUME_BATCH = 16 * 1024;

/**
 * One framewire stream as the application sees it: two directions, each ending on its own, and
 * exactly one outcome (spec §8.2).
 *
 * Messages (`for await (const m of stream)`), a byte-stream view (`stream.chunks()`), `write()`
 * that waits while the stream's send buffer is full, `end()`, `cancel()`, `fail()`, an AbortSignal
 * that fires when the stream ends unsuccessfully, and `outcome`, a promise that never rejects.
 * A façade: the send half, the receive half and the flow object live in the session's StreamCore
 * (stream-core.ts), which nothing outside the session layer can reach.
 */

import type { Logger } from 'pino';
import type { ErrorCodeName } from '../errors.ts';
import type { StreamFlowState } from '../flow/index.ts';
import type { ControlMap } from '../wire/index.ts';
import type { StreamOutcome } from './outcome.ts';
import type { WriteOptions } from './send-half.ts';
import type { StreamCore } from './stream-core.ts';

export type { WriteOptions } from './send-half.ts';

/**
 * One stream of a connection: messages in both directions with credit flow control, and exactly one end
 * (done, error or cancel). Iterate it for the messages it receives; `write()` and `send()` send, `end()`
 * finishes the sending side, `outcome` says how the stream ended.
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

  readonly #core: StreamCore;

  /** @internal Streams are made by the session: `Connection.open()`, or a stream handler for the peer's. */
  constructor(core: StreamCore) {
    this.#core = core;
    this.id = core.id;
    this.local = core.local;
    this.kind = core.kind;
    this.target = core.target;
    this.meta = core.meta;
    this.urgency = core.urgency;
    this.signal = core.signal;
    this.outcome = core.outcome;
  }

  /** A logger bound to this stream's connection and id. */
  get log(): Logger {
    return this.#core.log;
  }

  /** The peer's DONE trailer, once the read side completed. */
  get trailer(): ControlMap | undefined {
    return this.#core.receive.trailer;
  }

  /** The highest seq the peer acknowledged with ACK, if any. */
  get lastAck(): number | undefined {
    return this.#core.lastAck;
  }

  /** Bytes queued for sending (not yet handed to the transport). */
  get queuedBytes(): number {
    return this.#core.send.queuedBytes;
  }

  /** Bytes received and not yet read by the application: bounded by the receive window. */
  get bufferedBytes(): number {
    return this.#core.flow.buffered;
  }

  /** Where the stream's flow-control windows stand (absolute byte offsets): for diagnostics. */
  get flow(): StreamFlowState {
    return this.#core.flow.state;
  }

  get ended(): boolean {
    return this.#core.ended;
  }

  /** How the stream ended, known at once (`outcome` settles a microtask later); 'open' until then. */
  get status(): 'open' | StreamOutcome['status'] {
    return this.#core.settled?.status ?? 'open';
  }

  /** True while write(), send() and end() are allowed: our direction has not ended and the stream has no outcome. */
  get writable(): boolean {
    return this.#core.send.state === 'open';
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
    return this.#core.send.write(data, options);
  }

  /**
   * Queues one message like write(), and tells whether the send buffer still has room: when it
   * returns false, `await stream.drained()` before sending more (node's `write()`/'drain'
   * contract). For producers of many small messages: no promise per message. The payload is not
   * copied, as with write().
   */
  send(data: Uint8Array, options?: WriteOptions): boolean {
    return this.#core.send.send(data, options);
  }

  /** Resolves once the send buffer has room (at once if it has); rejects if the stream failed or was cancelled. */
  drained(): Promise<void> {
    return this.#core.send.drained();
  }

  /**
   * Ends our direction with DONE after all queued data (FW-STREAM-4). Resolves when DONE was written.
   * The trailer is encoded now: one that cannot be encoded rejects with INVALID_ARGUMENT, one larger
   * than the peer's max_frame_payload with MESSAGE_TOO_LARGE, and the stream stays writable.
   */
  end(trailer?: ControlMap): Promise<void> {
    return this.#core.send.end(trailer);
  }

  /** We no longer want the stream: CANCEL jumps the queue, queued data is dropped, the outcome is 'cancelled'. */
  cancel(reason?: string): void {
    this.#core.cancel(reason);
  }

  /**
   * Ends the stream with a coded ERROR frame; the outcome is 'failed' (local). The message is
   * shortened to fit the peer's max_frame_payload; an unregistered code, a retry hint that is not an
   * unsigned integer or details that cannot be encoded throw INVALID_ARGUMENT (details too large to
   * fit at all: MESSAGE_TOO_LARGE), and the stream is left as it was.
   */
  fail(code: ErrorCodeName, message: string, options?: { retryAfterMs?: number; details?: ControlMap; retryable?: boolean }): void {
    this.#core.fail(code, message, options);
  }

  /** Sends ACK: every frame up to `seq` we received on this stream was processed (FW-STREAM-9). */
  ack(seq: number): void {
    this.#core.ack(seq);
  }

  // ---- reading -------------------------------------------------------------------------------

  /** Whole messages, reassembled from FOLLOWS chains. Ends on DONE; throws on error or cancel. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.#core.receive.messages();
  }

  /**
   * The byte-stream view: DATA payloads as they arrive, without waiting for message ends. Over a
   * socket, a payload that straddled two reads comes as its two pieces (views, not copies): chunk
   * boundaries are not frame boundaries.
   */
  chunks(): AsyncIterableIterator<Uint8Array> {
    return this.#core.receive.chunks();
  }

  /**
   * Whole messages in batches: each step yields the whole messages received so far (at least
   * one, at most 1024), in order. For consumers of many small messages: one await per batch rather
   * than per message (bench/README.md: 64-byte messages).
   */
  batches(): AsyncIterableIterator<Uint8Array[]> {
    return this.#core.receive.batches();
  }

  /**
   * Reads one whole message, or undefined when the peer ended its direction. Calls made before the
   * previous one settled wait their turn: each gets the next message, in call order.
   */
  read(): Promise<Uint8Array | undefined> {
    return this.#core.receive.read();
  }
}

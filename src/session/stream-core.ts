/**
 * What the session holds of one stream (spec §8.2): identity, frame numbering, the two halves and
 * the flow object, and the one outcome both directions lead to. The application holds the public
 * `Stream` façade over it (stream.ts); nothing here is reachable from outside the session layer.
 */

import type { Logger } from 'pino';
import { FramewireError, type ErrorCodeName } from '../errors.ts';
import { StreamFlow, type ConnectionFlow } from '../flow/index.ts';
import { MIN_MAX_PAYLOAD, type ControlMap } from '../wire/index.ts';
import { asText, cancelPayload, checkCode, isPlainMap, isUint, streamErrorPayload } from './control-payload.ts';
import type { StreamControlEntry } from './control-queue.ts';
import type { StreamOutcome } from './outcome.ts';
import { ReceiveHalf } from './receive-half.ts';
import { SendHalf, type PackingLimits, type Sendable } from './send-half.ts';
import { Stream } from './stream.ts';

/** What a stream needs from its session. */
export interface StreamLink {
  /** The connection's windows: each stream's flow object updates them with its own. */
  readonly connectionFlow: ConnectionFlow;
  readonly logger: Logger;
  /** How we may pack small messages into one DATA frame (spec §8.2.6); undefined: we may not (yet). Set at the handshake. */
  packing: PackingLimits | undefined;
  /** The stream has something sendable (data, DONE) or was unblocked. */
  wake(stream: StreamCore): void;
  /** A stream CREDIT is due: coalesced, it carries the newest limit when written. */
  credit(stream: StreamCore): void;
  /** Queue ACK, CANCEL or ERROR ahead of data. */
  control(entry: StreamControlEntry): void;
  /** The peer's max_frame_payload once the handshake told it; undefined before (FW-FRAME-3). */
  sendLimit(): number | undefined;
  /** The stream reached its outcome (for counters and logs). */
  settled(stream: StreamCore, outcome: StreamOutcome): void;
  /** The stream reached its outcome and holds no unread data: release its slot. */
  release(stream: StreamCore): void;
}

export interface StreamInit {
  readonly id: number;
  readonly local: boolean;
  readonly kind: string;
  readonly target: string | undefined;
  readonly meta: ControlMap | undefined;
  readonly urgency: number;
  /** Our initial_stream_credit and the auto-tuning ceiling. */
  readonly receiveWindow: number;
  readonly maxReceiveWindow: number;
  /** Our max_message_size (0 = unlimited). */
  readonly maxMessageSize: number;
  readonly writeBuffer: number;
  /** Local streams: the OPEN payload, encoded when open() was called. */
  readonly openPayload?: Uint8Array;
}

export type StreamFailOptions = { retryAfterMs?: number; details?: ControlMap; retryable?: boolean };

export class StreamCore {
  readonly id: number;
  readonly local: boolean;
  readonly kind: string;
  readonly target: string | undefined;
  readonly meta: ControlMap | undefined;
  readonly urgency: number;
  readonly flow: StreamFlow;
  readonly send: SendHalf;
  readonly receive: ReceiveHalf;
  /** What the application holds. */
  readonly stream: Stream;
  /** Local streams: the encoded OPEN payload. */
  readonly openPayload: Uint8Array | undefined;
  /** OPEN was written (local streams); DATA may follow. */
  opened: boolean;
  sendSeq = 0;
  receiveSeq = 0;
  readonly signal: AbortSignal;
  readonly outcome: Promise<StreamOutcome>;

  readonly #link: StreamLink;
  readonly #abort = new AbortController();
  #resolveOutcome!: (outcome: StreamOutcome) => void;
  #settled: StreamOutcome | undefined;
  #released = false;
  #lastAck: number | undefined;
  #log: Logger | undefined;

  constructor(link: StreamLink, init: StreamInit) {
    this.#link = link;
    this.id = init.id;
    this.local = init.local;
    this.kind = init.kind;
    this.target = init.target;
    this.meta = init.meta;
    this.urgency = init.urgency;
    this.opened = !init.local;
    this.openPayload = init.openPayload;
    // Nothing may be sent before the peer's initial_stream_credit is applied (raiseSend).
    this.flow = new StreamFlow(link.connectionFlow, { sendCredit: 0, receiveWindow: init.receiveWindow, maxReceiveWindow: init.maxReceiveWindow, label: `stream ${init.id}` });
    this.send = new SendHalf(this, init.writeBuffer);
    this.receive = new ReceiveHalf(this, this.flow, init.maxMessageSize);
    this.signal = this.#abort.signal;
    this.outcome = new Promise((resolve) => {
      this.#resolveOutcome = resolve;
    });
    this.stream = new Stream(this);
  }

  /** A logger bound to this stream's connection and id (created on first use: most streams never log). */
  get log(): Logger {
    this.#log ??= this.#link.logger.child({ stream: this.id, kind: this.kind });
    return this.#log;
  }

  get ended(): boolean {
    return this.#settled !== undefined;
  }

  get settled(): StreamOutcome | undefined {
    return this.#settled;
  }

  /** The error of an unsuccessful outcome, or undefined (still open, or completed). */
  get failure(): FramewireError | undefined {
    const s = this.#settled;
    return s === undefined || s.status === 'completed' ? undefined : s.error;
  }

  get lastAck(): number | undefined {
    return this.#lastAck;
  }

  /** DATA may not arrive after the peer's DONE (FW-STREAM-7). */
  get receiveEnded(): boolean {
    return this.receive.state !== 'open';
  }

  sendLimit(): number | undefined {
    return this.#link.sendLimit();
  }

  wake(): void {
    this.#link.wake(this);
  }

  creditDue(): void {
    this.#link.credit(this);
  }

  // ---- the application's controls -------------------------------------------------------------

  cancel(reason: string | undefined): void {
    if (this.#settled !== undefined) return;
    const text = reason === undefined ? undefined : asText(reason);
    this.#link.control({ kind: 'cancel', stream: this, payload: cancelPayload(text, this.#link.sendLimit() ?? MIN_MAX_PAYLOAD) });
    const error = new FramewireError('CANCELLED', text ?? 'cancelled locally', { streamId: this.id });
    this.reset({ status: 'cancelled', error });
  }

  fail(code: ErrorCodeName, message: string, options: StreamFailOptions = {}): void {
    if (this.#settled !== undefined) return;
    checkCode(code);
    if (options.retryAfterMs !== undefined && !isUint(options.retryAfterMs)) throw new FramewireError('INVALID_ARGUMENT', `retryAfterMs must be an unsigned integer, got ${String(options.retryAfterMs)}`);
    if (options.retryable !== undefined && typeof options.retryable !== 'boolean') throw new FramewireError('INVALID_ARGUMENT', 'retryable must be a boolean');
    if (options.details !== undefined && !isPlainMap(options.details)) throw new FramewireError('INVALID_ARGUMENT', 'error details must be a plain object (a MessagePack map)');
    const error = new FramewireError(code, asText(message), { streamId: this.id, ...options });
    this.#link.control({ kind: 'error', stream: this, payload: streamErrorPayload(error, this.#link.sendLimit() ?? MIN_MAX_PAYLOAD) });
    this.reset({ status: 'failed', error });
  }

  ack(seq: number): void {
    if (this.#settled !== undefined) return;
    this.#link.control({ kind: 'ack', stream: this, seq });
  }

  // ---- driven by the session -------------------------------------------------------------------

  /** The next frame to send within the credit left, or undefined when blocked, empty or not yet opened. Reused: valid until the next call. */
  nextSendable(maxFramePayload: number): Sendable | undefined {
    return this.opened ? this.send.next(maxFramePayload, this.#link.packing) : undefined;
  }

  /** The frame from nextSendable() was written. */
  sent(sendable: Sendable): void {
    if (this.send.sent(sendable)) this.#maybeComplete();
  }

  /** The peer's CREDIT for this stream. */
  onCredit(limit: number): void {
    if (this.flow.raiseSend(limit) && this.send.hasPending) this.wake();
  }

  /** DATA arrived (seq and placement checked). Throws FLOW_CONTROL when it overran a window. */
  onData(bytes: number, payload: Uint8Array, flags: number, parts: readonly Uint8Array[] | undefined): void {
    this.flow.received(bytes);
    if (this.receive.state !== 'open') {
      // In flight when we reset the stream, or DATA after DONE: never read, its credit comes back.
      this.flow.abandoned(bytes);
      if (this.#settled === undefined) this.fail('STREAM_CLOSED', 'DATA after DONE');
      return;
    }
    this.receive.onData(payload, flags, parts);
  }

  /** The peer's DONE. */
  onDone(trailer: ControlMap | undefined): void {
    if (this.receive.state !== 'open') return;
    if (!this.receive.onDone(trailer)) {
      this.fail('PROTOCOL_ERROR', 'DONE received inside an unfinished message (FOLLOWS was set)');
      return;
    }
    this.#maybeComplete();
  }

  /** The peer's ACK. */
  onAck(seq: number): void {
    this.#lastAck = seq;
  }

  /**
   * Ends both directions now: after a CANCEL or ERROR (sent or received), a refusal, a GOAWAY, or
   * the loss of the connection. Queued data is dropped, waiters are released with the error.
   */
  reset(outcome: StreamOutcome): void {
    if (this.#settled !== undefined) return;
    this.send.reset();
    this.receive.reset();
    this.#settle(outcome);
    this.send.releaseWaiters(outcome.status === 'completed' ? new FramewireError('STREAM_CLOSED', 'stream closed') : outcome.error);
    this.receive.wakeReaders();
    this.maybeRelease();
  }

  #maybeComplete(): void {
    if (this.send.state === 'ended' && this.receive.state === 'ended') {
      this.#settle({ status: 'completed', trailer: this.receive.trailer });
      this.maybeRelease();
    }
  }

  #settle(outcome: StreamOutcome): void {
    this.#settled = outcome;
    this.#link.settled(this, outcome);
    if (outcome.status !== 'completed') this.#abort.abort(outcome.error);
    this.#resolveOutcome(outcome);
  }

  /** Keeps the stream's slot until its outcome is known and the application read everything (FW-LIMIT-1). */
  maybeRelease(): void {
    if (this.#released || this.#settled === undefined) return;
    // The peer's direction ended with DONE: what it sent is complete and stays readable even if
    // the stream then failed (our direction, or the connection). Dropping it would let a reader
    // see a clean end with messages missing.
    if (this.receive.unread > 0 && (this.#settled.status === 'completed' || this.receive.state === 'ended')) return;
    // Nobody will read what is left: its connection credit comes back now.
    if (this.receive.unread > 0) this.flow.released(this.receive.discardUnread());
    this.#released = true;
    this.#link.release(this);
  }
}

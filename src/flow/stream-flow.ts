/**
 * One stream's flow control, both directions and both levels (spec §8.3): the stream's own send
 * credit and receive window, and the connection's (connection-flow.ts), updated together in one
 * call, as quic-go's stream flow controller holds the connection's. Every rule about when credit
 * comes back lives here: bytes read by the application (in batches), bytes consumed at once (the
 * lengths of a PACKED frame), and bytes nobody will read (discarded DATA, a refused message, unread
 * data of a stream that failed), which return connection credit only (FW-FLOW-7).
 */

import type { ConnectionFlow } from './connection-flow.ts';
import { ReceiveWindow } from './receive-window.ts';
import { SendCredit } from './send-credit.ts';

export interface StreamFlowOptions {
  /** The peer's initial_stream_credit is applied later with raiseSend(); this is what we may send before it. */
  readonly sendCredit: number;
  /** Our initial_stream_credit. */
  readonly receiveWindow: number;
  /** The auto-tuning ceiling. */
  readonly maxReceiveWindow: number;
  /** For error messages: "stream 5". */
  readonly label: string;
}

/** What a stream's windows stand at: for diagnostics and tests (absolute byte offsets). */
export interface StreamFlowState {
  /** DATA bytes sent, and the offset the peer allows. */
  readonly sent: number;
  readonly sendLimit: number;
  /** DATA bytes received, consumed (credited back), the limit advertised, and the current window size. */
  readonly received: number;
  readonly consumed: number;
  readonly receiveLimit: number;
  readonly receiveWindow: number;
}

/** Read bytes reported to the windows at once (unless the stream's queue runs dry first). */
export const CONSUME_BATCH = 16 * 1024;

export class StreamFlow {
  readonly #connection: ConnectionFlow;
  readonly #send: SendCredit;
  readonly #receive: ReceiveWindow;
  /** False once the peer's direction ended: its window is final, only the connection's credit comes back. */
  #receiveOpen = true;
  /** Bytes the application read that the windows have not yet been told of (below #consumeBatch). */
  #unconsumed = 0;
  /** Report reads once this many are unreported: min(CONSUME_BATCH, window / 16), as of the last report. */
  #consumeBatch: number;

  constructor(connection: ConnectionFlow, options: StreamFlowOptions) {
    this.#connection = connection;
    this.#send = new SendCredit(options.sendCredit);
    this.#receive = new ReceiveWindow({ initial: options.receiveWindow, max: options.maxReceiveWindow, label: options.label });
    this.#consumeBatch = Math.min(CONSUME_BATCH, this.#receive.window >>> 4);
  }

  // ---- sending --------------------------------------------------------------------------------

  /** DATA bytes this stream may send now: its own credit and the connection's. */
  get sendAvailable(): number {
    return Math.min(this.#send.available, this.#connection.sendAvailable);
  }

  /** True when the stream's own credit is used up (not the connection's: a CREDIT for this stream wakes it). */
  get streamCreditExhausted(): boolean {
    return this.#send.available <= 0;
  }

  /** Records DATA bytes sent, against both windows. */
  sent(bytes: number): void {
    this.#send.consume(bytes);
    this.#connection.sent(bytes);
  }

  /** Applies the stream's CREDIT (or the peer's initial_stream_credit); true when the limit grew (FW-FLOW-3). */
  raiseSend(limit: number): boolean {
    return this.#send.raise(limit);
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** DATA arrived: throws FLOW_CONTROL when it overran the connection's or the stream's window (FW-FLOW-2). */
  received(bytes: number): void {
    this.#connection.received(bytes);
    this.#receive.receive(bytes);
  }

  /**
   * The application read `bytes`. Reported to the windows in batches of at most 1/16 window, and
   * whenever the stream's queue runs dry (`drained`): two window updates per small message showed
   * in the profile, and a CREDIT goes out per half window anyway (FW-FLOW-4), so it is late by at
   * most 1/16 of a window. True when a stream CREDIT is due.
   */
  read(bytes: number, drained: boolean): boolean {
    this.#unconsumed += bytes;
    if (this.#unconsumed < this.#consumeBatch && !drained) return false;
    const due = this.consumed(this.#unconsumed);
    this.#unconsumed = 0;
    this.#consumeBatch = Math.min(CONSUME_BATCH, this.#receive.window >>> 4);
    return due;
  }

  /** Bytes consumed at once (not through a read). True when a stream CREDIT is due. */
  consumed(bytes: number): boolean {
    if (bytes === 0) return false;
    let due = false;
    if (this.#receiveOpen) due = this.#receive.consume(bytes, this.#connection.now, this.#connection.rttMs) !== undefined;
    this.#connection.consumed(bytes);
    return due;
  }

  /** Bytes that arrived and will never be read: the connection's credit comes back now (FW-FLOW-7). */
  abandoned(bytes: number): void {
    this.#connection.consumed(bytes);
  }

  /** The stream is released with `unread` bytes nobody will read, besides reads not yet reported. */
  released(unread: number): void {
    const bytes = this.#unconsumed + unread;
    this.#unconsumed = 0;
    this.#connection.consumed(bytes);
  }

  /** The peer's direction ended (DONE, or the stream was reset): no stream CREDIT any more. */
  endReceive(): void {
    this.#receiveOpen = false;
  }

  /** Bytes received and not yet read by the application. */
  get buffered(): number {
    return this.#receive.buffered - this.#unconsumed;
  }

  /** The limit a stream CREDIT advertises. */
  get receiveLimit(): number {
    return this.#receive.limit;
  }

  get state(): StreamFlowState {
    return {
      sent: this.#send.sent,
      sendLimit: this.#send.limit,
      received: this.#receive.received,
      consumed: this.#receive.consumed,
      receiveLimit: this.#receive.limit,
      receiveWindow: this.#receive.window,
    };
  }
}

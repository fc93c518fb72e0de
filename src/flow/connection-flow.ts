/**
 * The connection's two windows (spec §8.3): what we may still send on all streams together, and
 * what the peer may still send us. Streams reach it only through their StreamFlow (stream-flow.ts),
 * which updates both windows in one call, as quic-go's stream flow controller holds the
 * connection's; the session itself touches it only for stream 0's CREDIT and for DATA that
 * arrives for a stream that no longer exists.
 */

import { ReceiveWindow } from './receive-window.ts';
import { SendCredit } from './send-credit.ts';

export interface ConnectionFlowOptions {
  /** Our initial_connection_credit. */
  readonly receiveWindow: number;
  /** Auto-tuning never grows the connection window beyond this. */
  readonly maxReceiveWindow: number;
  /** Clock time in ms, read only when auto-tuning needs it. */
  readonly now: () => number;
  /** The RTT auto-tuning works from; 0 = unknown (no growth). Read only when a CREDIT is due. */
  readonly rttMs: () => number;
  /** A connection CREDIT is due: the new limit is `receiveLimit` when it is written. */
  readonly onCredit: () => void;
}

export class ConnectionFlow {
  /** Starts at 0: nothing may be sent before the peer's HELLO tells its initial_connection_credit. */
  readonly #send = new SendCredit(0);
  readonly #receive: ReceiveWindow;
  readonly #now: () => number;
  readonly #rttMs: () => number;
  readonly #onCredit: () => void;
  #closed = false;

  constructor(options: ConnectionFlowOptions) {
    this.#receive = new ReceiveWindow({ initial: options.receiveWindow, max: options.maxReceiveWindow, label: 'connection' });
    this.#now = options.now;
    this.#rttMs = options.rttMs;
    this.#onCredit = options.onCredit;
  }

  /** For the stream windows' auto-tuning, which reads the same clock and RTT. */
  get now(): () => number {
    return this.#now;
  }

  get rttMs(): () => number {
    return this.#rttMs;
  }

  /** DATA bytes any stream may send now, as far as the connection is concerned. */
  get sendAvailable(): number {
    return this.#send.available;
  }

  /** Applies a connection CREDIT (or the HELLO's initial credit); true when the limit grew (FW-FLOW-3). */
  raiseSend(limit: number): boolean {
    return this.#send.raise(limit);
  }

  /** The limit a connection CREDIT advertises. */
  get receiveLimit(): number {
    return this.#receive.limit;
  }

  /** Bytes received on all streams and not yet consumed. */
  get buffered(): number {
    return this.#receive.buffered;
  }

  /** DATA arrived for a stream that no longer exists: counted against the window and credited back at once (FW-STREAM-8). */
  discard(bytes: number): void {
    this.received(bytes);
    this.consumed(bytes);
  }

  /** No more credit goes out: the connection is over. */
  close(): void {
    this.#closed = true;
  }

  /** @see StreamFlow: only a stream's flow object and discard() account connection bytes. */
  sent(bytes: number): void {
    this.#send.consume(bytes);
  }

  /** Throws FLOW_CONTROL when the peer overran the connection window (FW-FLOW-2). */
  received(bytes: number): void {
    this.#receive.receive(bytes);
  }

  /** Bytes that will not be held any more (read, or never to be read): the connection's credit comes back (FW-FLOW-4, FW-FLOW-7). */
  consumed(bytes: number): void {
    if (this.#closed || bytes === 0) return;
    if (this.#receive.consume(bytes, this.#now, this.#rttMs) !== undefined) this.#onCredit();
  }
}

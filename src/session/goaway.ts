/**
 * Graceful shutdown (spec §8.6): GOAWAY sent (refuse new streams, let in-flight ones finish
 * within a deadline, then close) and received (our streams above its last_stream were not
 * processed). The session runs the connection; this keeps both directions' GOAWAY state and
 * decides when the drain is over.
 */

import { FramewireError } from '../errors.ts';
import type { Logger } from 'pino';
import type { Clock, DeferPhase, TimerHandle } from './clock.ts';
import { asText, goawayPayload, isUint } from './control-payload.ts';
import type { Guard } from './guard.ts';
import type { SendPump } from './send-pump.ts';
import type { StreamCore } from './stream-core.ts';
import type { Streams } from './streams.ts';

/** What a GOAWAY needs of its session. */
export interface GoawayHost {
  readonly streams: Streams;
  readonly sender: SendPump;
  /** The session's guarded clock (the deadline) and its unguarded deferral (the drain's end guards itself). */
  readonly clock: Clock;
  readonly defer: (fn: () => void, phase: DeferPhase) => void;
  readonly guard: Guard;
  readonly log: Logger;
  readonly defaultDeadlineMs: number;
  /** The transport's wait for the GOAWAY's sender to close (FW-QUIC-12); undefined: none. */
  readonly goawayCloseWaitMs: number | undefined;
  /** 'open' once the handshake is done, 'closed' at the end. */
  state(): 'handshake' | 'authenticating' | 'open' | 'closed';
  /** Resolves when the session is over. */
  whenClosed(): Promise<unknown>;
  /** Closes now (before the handshake completed). */
  close(): void;
  /** Ends the connection cleanly: what is queued goes out, then the transport closes. */
  finish(): void;
}

export class Goaway {
  readonly #host: GoawayHost;
  #sent: Promise<void> | undefined;
  #received: number | undefined;
  #timer: TimerHandle | undefined;
  /** Received GOAWAY, no stream left: how long we still leave the close to its sender (FW-QUIC-12). */
  #closeWait: TimerHandle | undefined;

  constructor(host: GoawayHost) {
    this.#host = host;
  }

  /** We sent GOAWAY: the peer's new streams are refused. */
  get sent(): boolean {
    return this.#sent !== undefined;
  }

  /** Either side is going away: no new streams. */
  get active(): boolean {
    return this.#sent !== undefined || this.#received !== undefined;
  }

  /** Sends GOAWAY (FW-GOAWAY-1); resolves when the connection is closed. */
  send(options: { deadlineMs?: number; message?: string }): Promise<void> {
    const host = this.#host;
    if (this.#sent !== undefined) return this.#sent;
    if (host.state() === 'closed') return Promise.resolve();
    const deadlineMs = options.deadlineMs ?? host.defaultDeadlineMs;
    if (!isUint(deadlineMs)) return Promise.reject(new FramewireError('INVALID_ARGUMENT', `deadlineMs must be an unsigned integer, got ${String(deadlineMs)}`));
    const done = host.whenClosed().then(() => undefined);
    this.#sent = done;
    const table = host.streams.table;
    for (const s of table.takeAllPending()) {
      s.reset({ status: 'failed', error: new FramewireError('REFUSED_STREAM', 'the connection is going away', { streamId: s.id, details: { processed: 'no' } }) });
    }
    if (host.state() !== 'open') {
      host.close();
      return done;
    }
    const payload = goawayPayload(table.highestPeerId, new FramewireError('NO_ERROR', asText(options.message ?? 'going away')), deadlineMs, host.sender.sendLimit);
    host.sender.queueControl({ kind: 'goaway', payload });
    this.#timer = host.clock.setTimeout(() => {
      for (const s of table.all()) s.fail('TIMEOUT', `GOAWAY deadline of ${deadlineMs} ms passed`);
      host.sender.run();
      host.finish();
    }, deadlineMs);
    this.maybeFinishDrain();
    return done;
  }

  /** The peer's GOAWAY: our streams above last_stream, and those still pending, were not processed. */
  onReceived(lastStream: number, code: number, message: string | undefined): void {
    if (this.#received !== undefined && lastStream > this.#received) {
      throw new FramewireError('PROTOCOL_ERROR', `GOAWAY last_stream grew from ${this.#received} to ${lastStream}`);
    }
    this.#received = lastStream;
    this.#host.log.info({ lastStream, code, msg: message }, 'peer sent GOAWAY');
    const table = this.#host.streams.table;
    for (const s of table.takeAllPending()) s.reset({ status: 'failed', error: refused(s) });
    for (const s of table.all()) {
      if (s.local && s.id > lastStream) s.reset({ status: 'failed', error: refused(s) });
    }
    this.maybeFinishDrain();
  }

  /**
   * After a GOAWAY either way, the connection closes once no stream is left: at once when we sent
   * one (FW-GOAWAY-4) or the transport orders every frame (§8.6 MAY); otherwise the GOAWAY's sender
   * may have an OPEN still in flight, and the close is left to it for a while (FW-QUIC-12).
   */
  maybeFinishDrain(): void {
    if (this.#host.state() !== 'open' || !this.active || this.#host.streams.table.size > 0) return;
    const waitMs = this.#host.goawayCloseWaitMs;
    if (this.#sent === undefined && waitMs !== undefined) {
      this.#closeWait ??= this.#host.clock.setTimeout(() => {
        this.#closeWait = undefined;
        this.#finishDrain();
      }, waitMs);
      return;
    }
    // Let queued frames (the GOAWAY itself, final DONEs) go out before closing.
    this.#host.defer(this.#finishDrain, 'microtask');
  }

  readonly #finishDrain = (): void => {
    this.#host.guard.run('closing after GOAWAY', () => {
      if (this.#host.streams.table.size === 0 && this.#host.state() === 'open') {
        this.#host.sender.run();
        this.#host.finish();
      }
    });
  };

  /** What a stream still open when the connection ends fails with: ours above the peer's last_stream were not processed (§8.6), the rest fail with `otherwise`. */
  endFailure(s: StreamCore, otherwise: FramewireError): FramewireError {
    return s.local && this.#received !== undefined && s.id > this.#received
      ? new FramewireError('REFUSED_STREAM', 'not processed: the peer went away', { streamId: s.id, details: { processed: 'no' } })
      : otherwise;
  }

  stop(): void {
    this.#timer?.cancel();
    this.#closeWait?.cancel();
  }
}

function refused(s: StreamCore): FramewireError {
  return new FramewireError('REFUSED_STREAM', `stream ${s.id} was not processed: the peer is going away`, { remote: true, streamId: s.id, details: { processed: 'no' } });
}

/**
 * framewire over one QUIC connection (spec §14): the session's frames are routed by stream id, so
 * a lost packet stalls only the framewire stream whose QUIC stream it belonged to.
 *
 * - Stream 0 (HELLO, PING, GOAWAY, connection CREDIT and ERROR) rides the control stream, the first
 *   bidirectional stream the client opens (FW-QUIC-2).
 * - Each framewire stream rides its own bidirectional QUIC stream, opened by the side that opens the
 *   framewire stream; its OPEN is the QUIC stream's first frame and binds the two (FW-QUIC-3).
 * - The session still expects what one byte stream gave it for free, so this class restores it
 *   where needed: the peer's OPENs reach the session in QUIC stream order (FW-QUIC-4), no stream
 *   frame before the peer's HELLO, and the end of the control stream is reported only after the
 *   peer's other streams ended or a deadline passed (FW-QUIC-8).
 */

import type { Logger } from 'pino';
import { FramewireError } from '../../errors.ts';
import type { FrameTransport, Role, Session } from '../../session/index.ts';
import { FrameType, HANDSHAKE_MAX_PAYLOAD, type RawFrame } from '../../wire/index.ts';
import type { QuicConnection, QuicStream } from './binding.ts';
import { Channel, type ChannelHost } from './channel.ts';
import { checkQuicOptions } from './config.ts';
import { classifyQuicFailure, guarded } from './failure.ts';
import { peerIdOfAddress } from './identity.ts';

/** Tuning of the QUIC transport under a connection; each number is checked against quicOptionRanges (config.ts, spec §14.7). */
export interface QuicTransportTuning {
  /** Bytes one framewire stream may have queued towards its QUIC stream before the scheduler skips it (default 256 KiB; at least 1). */
  readonly streamHighWater?: number;
  /** How long close() waits for the peer to end the control stream before it closes the QUIC connection (default 2 s; 0..2^31-1 ms). */
  readonly closeTimeoutMs?: number;
  /**
   * After the peer's GOAWAY, with no stream left, how long we leave the close to the peer before
   * closing ourselves (default 2 s): an OPEN it wrote before the GOAWAY may still be in flight on
   * its own QUIC stream (FW-QUIC-12). 0..2^31-1 ms.
   */
  readonly goawayCloseWaitMs?: number;
  readonly logger?: Logger;
  /** Called once when the QUIC connection is gone (the dialer releases its endpoint). */
  readonly onGone?: () => void;
}

export class QuicTransport implements FrameTransport, ChannelHost {
  readonly #connection: QuicConnection;
  readonly #role: Role;
  readonly #streamHighWater: number;
  readonly #closeTimeoutMs: number;
  readonly goawayCloseWaitMs: number;
  readonly #log: Logger | undefined;
  readonly #onGone: (() => void) | undefined;
  readonly #control: Channel;
  /** Channels by framewire stream id, once bound. */
  readonly #channels = new Map<number, Channel>();
  /** The peer's new QUIC streams in accept order, until their OPEN reached the session (FW-QUIC-4). */
  readonly #unbound: Channel[] = [];
  /** Frames of unbound channels that wait for an earlier channel's OPEN or for the peer's HELLO. */
  readonly #held = new Map<Channel, { readonly id: number; readonly frames: RawFrame[] }>();
  /** Local channels wait for their QUIC stream; opened one at a time so QUIC ids follow framewire ids. */
  #opening: Promise<unknown> = Promise.resolve();
  readonly #dirty = new Set<Channel>();
  readonly #finishing = new Set<Channel>();
  #finishScheduled = false;
  #session: Session | undefined;
  #maxPayload = HANDSHAKE_MAX_PAYLOAD;
  #helloSeen = false;
  #closing = false;
  #gone = false;
  #controlAccepted = false;
  #peerEnded = false;
  #peerEndReported = false;
  #peerEndTimer: NodeJS.Timeout | undefined;

  constructor(connection: QuicConnection, role: Role, tuning: QuicTransportTuning = {}) {
    checkQuicOptions(tuning);
    this.#connection = connection;
    this.#role = role;
    this.#streamHighWater = tuning.streamHighWater ?? 256 * 1024;
    this.#closeTimeoutMs = tuning.closeTimeoutMs ?? 2000;
    this.goawayCloseWaitMs = tuning.goawayCloseWaitMs ?? 2000;
    this.#log = tuning.logger;
    this.#onGone = tuning.onGone;
    this.#control = new Channel(this, 0, Number.MAX_SAFE_INTEGER, this.#maxPayload);
  }

  /** The peer's identity as its TLS certificate proved it (libp2p peer id). */
  get peerId(): string {
    try {
      return peerIdOfAddress(this.#connection.remoteMultiaddr());
    } catch {
      return '';
    }
  }

  /** Starts the control stream and the accept loop, then the handshake. */
  attach(session: Session): void {
    this.#session = session;
    guarded(() => this.#connection.closed()).then(
      () => {
        this.#lost(new FramewireError('CONNECTION_LOST', 'the QUIC connection closed'));
      },
      (error: unknown) => {
        this.failed(this.#control, classifyQuicFailure(error, 'connection', 0).error);
      },
    );
    if (this.#role === 'client') {
      this.#opening = guarded(() => this.#connection.outboundStream()).then(
        (quic) => {
          this.#control.connect(quic);
        },
        (error: unknown) => {
          this.failed(this.#control, classifyQuicFailure(error, 'open', 0).error);
        },
      );
    }
    this.#accept();
    session.start();
  }

  // ---- the session's side (FrameTransport) --------------------------------------------------

  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    if (this.#closing) return;
    let channel = stream === 0 ? this.#control : this.#channels.get(stream);
    if (channel === undefined) {
      // Our new stream: its OPEN is the first frame of a QUIC stream we open now (FW-QUIC-3).
      if (type !== FrameType.OPEN || !this.#isLocal(stream)) return;
      channel = this.#openChannel(stream);
    }
    if (!channel.write(type, flags, stream, seq, payload)) {
      this.#log?.debug({ stream, type }, 'QUIC: frame after the stream ended, dropped');
      return;
    }
    this.#dirty.add(channel);
    if (channel.over) this.#finishSoon(channel);
  }

  get copyLimit(): number {
    return 16 * 1024;
  }

  flush(): void {
    for (const channel of this.#dirty) channel.flush();
    this.#dirty.clear();
    this.#finishPending();
  }

  /** The control stream's backlog: stream channels are limited one by one (streamBlocked). */
  get bufferedBytes(): number {
    return this.#control.queuedBytes;
  }

  /** True while stream `id` has more queued than its high-water mark: the scheduler serves other streams. */
  streamBlocked(id: number): boolean {
    return this.#channels.get(id)?.blocked ?? false;
  }

  setMaxPayload(maxPayload: number): void {
    this.#maxPayload = maxPayload;
    this.#control.setMaxPayload(maxPayload);
    for (const c of this.#channels.values()) c.setMaxPayload(maxPayload);
    for (const c of this.#unbound) c.setMaxPayload(maxPayload);
  }

  /**
   * Flushes and ends every QUIC stream we write (FIN after the queued frames), then waits up to
   * closeTimeoutMs for the peer to end the control stream before closing the QUIC connection.
   */
  close(): void {
    if (this.#closing) return;
    this.flush();
    this.#closing = true;
    for (const c of this.#channels.values()) c.finish();
    this.#control.finish();
    if (this.#peerEnded && this.#control.readEnded) {
      this.#abort();
      return;
    }
    setTimeout(() => {
      this.#abort();
    }, this.#closeTimeoutMs).unref();
  }

  /** Cuts the connection at once (CONNECTION_CLOSE), as a network failure would. */
  destroy(): void {
    this.#closing = true;
    this.#abort();
  }

  #abort(): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#peerEndTimer);
    try {
      this.#connection.abort();
    } catch (error) {
      this.#log?.warn({ err: error }, 'QUIC: abort failed');
    }
    this.#release();
    this.#session?.transportClosed(new FramewireError('CONNECTION_LOST', 'the connection closed'));
  }

  /** Drops every queue and releases the endpoint: the connection is over. */
  #release(): void {
    for (const c of [this.#control, ...this.#channels.values(), ...this.#unbound]) c.discard();
    this.#channels.clear();
    this.#unbound.length = 0;
    this.#held.clear();
    this.#onGone?.();
  }

  // ---- channels ---------------------------------------------------------------------------

  #isLocal(id: number): boolean {
    return id % 2 === (this.#role === 'client' ? 1 : 0);
  }

  #openChannel(id: number): Channel {
    const channel = new Channel(this, id, this.#streamHighWater, this.#maxPayload);
    this.#channels.set(id, channel);
    this.#opening = this.#opening.then(() =>
      guarded(() => this.#connection.outboundStream()).then(
        (quic) => {
          if (this.#gone) return;
          channel.connect(quic);
        },
        (error: unknown) => {
          this.failed(channel, classifyQuicFailure(error, 'open', id).error);
        },
      ),
    );
    return channel;
  }

  /** Accepts the peer's QUIC streams in order: the server's first is the control stream (FW-QUIC-2). */
  #accept(): void {
    guarded(() => this.#connection.inboundStream()).then(
      (quic: QuicStream) => {
        if (this.#gone) return;
        if (this.#role === 'server' && !this.#controlAccepted) {
          this.#controlAccepted = true;
          this.#control.connect(quic);
        } else {
          const channel = new Channel(this, -1, this.#streamHighWater, this.#maxPayload, quic);
          this.#unbound.push(channel);
          channel.startReading();
        }
        this.#accept();
      },
      (error: unknown) => {
        // The accept loop ends with the connection; the closed() watcher reports why.
        this.#log?.debug({ err: error }, 'QUIC: accept loop ended');
      },
    );
  }

  frame(channel: Channel, frame: RawFrame): void {
    const session = this.#session;
    if (session === undefined || this.#gone) return;
    if (channel === this.#control) {
      if (frame.stream !== 0) {
        this.failed(channel, new FramewireError('PROTOCOL_ERROR', `frame for stream ${frame.stream} on the control stream (FW-QUIC-2)`));
        return;
      }
      session.receive(frame);
      if (!this.#helloSeen) {
        this.#helloSeen = true;
        this.#releaseHeld();
      }
      return;
    }
    if (channel.id === -1) {
      this.#hold(channel, frame);
      return;
    }
    if (frame.stream !== channel.id) {
      this.failed(channel, new FramewireError('PROTOCOL_ERROR', `frame for stream ${frame.stream} on the QUIC stream of stream ${channel.id} (FW-QUIC-3)`));
      return;
    }
    this.#deliver(session, channel, frame);
  }

  #deliver(session: Session, channel: Channel, frame: RawFrame): void {
    if (frame.type === FrameType.DONE) channel.receivedDone = true;
    else if (frame.type === FrameType.CANCEL || frame.type === FrameType.ERROR) channel.receivedReset = true;
    session.receive(frame);
    if (channel.over) this.#finishSoon(channel);
  }

  /** A frame of a QUIC stream whose OPEN may not go to the session yet (FW-QUIC-4). */
  #hold(channel: Channel, frame: RawFrame): void {
    let held = this.#held.get(channel);
    if (held === undefined) {
      if (frame.type !== FrameType.OPEN || frame.stream === 0 || this.#isLocal(frame.stream) || this.#channels.has(frame.stream)) {
        this.failed(channel, new FramewireError('PROTOCOL_ERROR', `a new QUIC stream must start with the peer's OPEN, got frame type ${frame.type} for stream ${frame.stream} (FW-QUIC-3)`));
        return;
      }
      held = { id: frame.stream, frames: [] };
      this.#held.set(channel, held);
      // Bounded: at most one read's frames per waiting stream, then it stops reading.
      channel.pause();
    }
    held.frames.push(frame);
    this.#releaseHeld();
  }

  /** Binds and delivers waiting channels from the front of the accept order, after the peer's HELLO. */
  #releaseHeld(): void {
    const session = this.#session;
    if (session === undefined || !this.#helloSeen) return;
    for (;;) {
      const head = this.#unbound[0];
      const held = head === undefined ? undefined : this.#held.get(head);
      if (head === undefined || held === undefined) return;
      this.#unbound.shift();
      this.#held.delete(head);
      head.id = held.id;
      this.#channels.set(head.id, head);
      for (const f of held.frames) {
        if (f.stream !== head.id) {
          this.failed(head, new FramewireError('PROTOCOL_ERROR', `frame for stream ${f.stream} on the QUIC stream of stream ${head.id} (FW-QUIC-3)`));
          return;
        }
        this.#deliver(session, head, f);
      }
      head.resume();
    }
  }

  /** The framewire stream is over: FIN our half once the session flushed what it still writes (FW-QUIC-6). */
  #finishSoon(channel: Channel): void {
    this.#finishing.add(channel);
    if (this.#finishScheduled) return;
    this.#finishScheduled = true;
    setImmediate(() => {
      this.#finishPending();
    });
  }

  #finishPending(): void {
    this.#finishScheduled = false;
    for (const c of this.#finishing) {
      c.flush();
      c.finish();
    }
    this.#finishing.clear();
  }

  readEnded(channel: Channel): void {
    // Once we close (after a connection error, say one found in this very QUIC stream's last
    // bytes), an early FIN is no news: failing again would cut the connection before our ERROR left.
    if (channel !== this.#control && !channel.over && channel.id > 0 && !this.#closing) {
      // The peer ended its half while the framewire stream was live for it: its frames will never come (FW-QUIC-6).
      this.failed(channel, new FramewireError('PROTOCOL_ERROR', `the peer ended the QUIC stream of stream ${channel.id} before the framewire stream ended (FW-QUIC-6)`));
      return;
    }
    if (channel === this.#control) {
      this.#peerEnded = true;
      // Both sides are done: the connection goes once our own end of the control stream (our
      // ERROR, say) is written and finished, in closed(), or at close()'s deadline.
      if (this.#closing) return;
      // Stream frames the peer wrote before it ended the control stream may still be in flight
      // on their own QUIC streams: report the end once they arrived, or at the deadline (FW-QUIC-8).
      this.#peerEndTimer = setTimeout(() => {
        this.#reportPeerEnd();
      }, this.#closeTimeoutMs);
      this.#peerEndTimer.unref();
    }
    if (this.#peerEnded) this.#maybeReportPeerEnd();
  }

  #maybeReportPeerEnd(): void {
    for (const c of this.#channels.values()) if (!c.readEnded) return;
    this.#reportPeerEnd();
  }

  #reportPeerEnd(): void {
    if (this.#peerEndReported) return;
    this.#peerEndReported = true;
    clearTimeout(this.#peerEndTimer);
    this.#session?.transportClosed(new FramewireError('CONNECTION_LOST', 'the peer closed the connection'));
    // As a TCP socket without half-open: our side ends too.
    this.close();
  }

  drained(): void {
    this.#session?.writable();
  }

  closed(channel: Channel): void {
    if (channel === this.#control && this.#closing) {
      this.#abort();
      return;
    }
    if (channel.id > 0 && this.#channels.get(channel.id) === channel) this.#channels.delete(channel.id);
    if (this.#peerEnded) this.#maybeReportPeerEnd();
  }

  failed(channel: Channel, error: FramewireError): void {
    if (this.#gone) return;
    if (this.#closing || this.#peerEnded) {
      this.#abort();
      return;
    }
    this.#log?.info({ stream: channel.id, code: error.code, err: error.message }, 'QUIC: channel failed');
    const session = this.#session;
    if (error.code === 'CONNECTION_LOST') this.#lost(error);
    else session?.transportError(error);
  }

  #lost(error: FramewireError): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#closing = true;
    clearTimeout(this.#peerEndTimer);
    this.#release();
    this.#session?.transportClosed(error);
  }
}

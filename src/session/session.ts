/**
 * The connection state machine (spec §8): stream 0, the handshake, GOAWAY and the end of the
 * connection. Frames in (`receive`), frames out (through a
 * `FrameTransport`), time from an injected clock. No sockets: the transport layer owns those, and
 * nothing here assumes that all streams share one byte stream (each frame names its stream, seq is
 * per stream and direction), so a QUIC mapping can route frames per stream. The streams live in
 * streams.ts (table, opens, stream frames), sending in send-pump.ts, the HELLO rules in
 * handshake.ts, GOAWAY in goaway.ts, heartbeat, deadlines and the peer's PINGs in liveness.ts.
 */

import type { Logger } from 'pino';
import { checkInteger, MAX_TIMER_MS } from '../arguments.ts';
import { FramewireError, isFramewireError, toFramewireError } from '../errors.ts';
import { ConnectionFlow } from '../flow/index.ts';
import {
  defaultSettings,
  FrameType,
  frameTypeName,
  HANDSHAKE_MAX_PAYLOAD,
  parseFrame,
  type Frame,
  type HelloPayload,
  type RawFrame,
  type Settings,
} from '../wire/index.ts';
import { deferOn, type Clock, type TimerHandle } from './clock.ts';
import { safeErrorPayload } from './control-payload.ts';
import { Guard } from './guard.ts';
import { resolveSessionOptions, type ResolvedSessionOptions, type SessionOptions } from './options.ts';
import { Liveness } from './liveness.ts';
import { SessionStats } from './stats.ts';
import type { Stream } from './stream.ts';
import { Streams, type OpenOptions } from './streams.ts';
import { Handshake } from './handshake.ts';
import { Goaway } from './goaway.ts';
import type { FrameTransport } from './frame-transport.ts';
import { SendPump } from './send-pump.ts';
import { withOptional } from './optional.ts';

export type { FrameTransport } from './frame-transport.ts';

export type { OpenOptions } from './streams.ts';

/** Handles a stream the peer opened. */
export type StreamHandler = (stream: Stream, session: Session) => void | Promise<void>;

/** How a session ended. */
export interface SessionEnd {
  /** Undefined for a graceful close (GOAWAY drained, or close() without error). */
  readonly error: FramewireError | undefined;
}

type State = 'handshake' | 'authenticating' | 'open' | 'closed';

/**
 * The connection state machine without I/O (spec/PROTOCOL.md §7–§8): frames in through the transport,
 * frames out through it, timers on the injected clock. `Connection` binds one to a socket; tests and other
 * transports can drive one directly.
 */
export class Session {
  readonly id: string;
  readonly role: 'client' | 'server';
  /** Resolves when both HELLOs were exchanged; rejects if the handshake failed. */
  readonly ready: Promise<void>;
  /** Resolves once when the connection is over; never rejects. */
  readonly closed: Promise<SessionEnd>;
  readonly stats = new SessionStats();
  readonly log: Logger;

  readonly #o: ResolvedSessionOptions;
  /** Every timer, listener and continuation of this connection runs behind it (STYLE.md 11). */
  readonly #guard: Guard;
  /** The injected clock, its timers behind the guard. */
  readonly #clock: Clock;
  readonly #transport: FrameTransport;
  /** Control frames, then DATA: every frame we send goes through it. */
  readonly #sender: SendPump;
  /** The stream table, opens, and the frames on streams other than 0. */
  readonly #streams: Streams;
  #state: State = 'handshake';
  #peer: Settings | undefined;
  #principal: unknown;
  #version = 0;

  #receiveSeq0 = 0;

  readonly #connectionFlow: ConnectionFlow;

  /** GOAWAY sent and received. */
  readonly #goaway: Goaway;

  #handshakeTimer: TimerHandle | undefined;
  /** Why the session ended, for open() calls that come after. */
  #endError: FramewireError | undefined;

  /** Heartbeat, deadlines, the peer's PINGs and the RTT. */
  readonly #liveness: Liveness;
  /** The HELLO exchange's rules: our HELLO, the version chosen, authentication. */
  readonly #handshake: Handshake;

  #resolveReady!: () => void;
  #rejectReady!: (e: FramewireError) => void;
  #resolveClosed!: (end: SessionEnd) => void;

  constructor(options: SessionOptions, transport: FrameTransport, onStream?: StreamHandler) {
    this.#o = resolveSessionOptions(options);
    this.id = this.#o.connectionId;
    this.role = this.#o.role;
    this.log = this.#o.logger;
    this.#transport = transport;
    this.#handshake = new Handshake(this.#o);
    this.#guard = new Guard(this.log, (error, where, streamId) => {
      this.#recover(streamId);
    }, this.id);
    const clock = this.#guard.clock(this.#o.clock, 'session timer');
    this.#clock = clock;
    this.#connectionFlow = new ConnectionFlow({
      receiveWindow: this.#o.settings.initialConnectionCredit,
      maxReceiveWindow: this.#o.limits.maxConnectionWindow,
      now: () => clock.now(),
      rttMs: () => this.#liveness.tuningRtt(),
      onCredit: () => {
        this.#sender.queueCredit(undefined);
      },
    });
    const l = this.#o.limits;
    // The clock's deferral unguarded: the pump's entry points guard themselves (no closure per run).
    this.#sender = new SendPump(transport, { stats: this.stats, limits: l, connectionFlow: this.#connectionFlow, guard: this.#guard, defer: deferOn(this.#o.clock) }, {
      closed: () => this.#state === 'closed',
      dataLimit: () => (this.#state === 'open' ? this.#peer?.maxFramePayload : undefined),
      overflow: (error) => {
        this.#connectionError(error);
      },
    });
    this.#streams = new Streams(this.#o, clock, {
      connectionFlow: this.#connectionFlow,
      sender: this.#sender,
      guard: this.#guard,
      stats: this.stats,
      peer: () => (this.#state === 'open' ? this.#peer : undefined),
      goingAway: () => this.#goaway.sent,
      handler: onStream === undefined ? undefined : (stream) => onStream(stream, this),
      inUse: () => {
        this.#liveness.inUse();
      },
      unused: () => {
        this.#liveness.unused();
      },
      released: () => {
        this.#goaway.maybeFinishDrain();
      },
    });
    this.#goaway = new Goaway({
      streams: this.#streams,
      sender: this.#sender,
      clock,
      defer: deferOn(this.#o.clock),
      guard: this.#guard,
      log: this.log,
      defaultDeadlineMs: l.goawayDeadlineMs,
      goawayCloseWaitMs: transport.goawayCloseWaitMs === undefined ? undefined : checkInteger('transport goawayCloseWaitMs', transport.goawayCloseWaitMs, 0, MAX_TIMER_MS),
      state: () => this.#state,
      whenClosed: () => this.closed,
      close: () => {
        this.close();
      },
      finish: () => {
        this.#finish(undefined, true);
      },
    });
    this.#liveness = new Liveness(clock, this.#o, this.stats, {
      sendPing: (flags, payload) => {
        this.#sender.queueControl({ kind: 'ping', flags, payload });
      },
      fail: (error) => {
        this.#connectionError(error);
      },
      unused: (elapsedMs) => {
        this.log.info({ unusedMs: Math.round(elapsedMs) }, 'no stream open: closing the connection');
        void this.goaway({ message: `no stream open for ${l.unusedConnectionTimeoutMs} ms`, deadlineMs: 0 });
      },
      partialFrame: () => {
        const t = this.#transport;
        return t.partialFrameBytes === undefined || t.framesDecoded === undefined ? undefined : { bytes: t.partialFrameBytes, frames: t.framesDecoded };
      },
      isOpen: () => this.#state === 'open',
    });
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // A failed handshake is reported through `closed` too; an unobserved `ready` must not crash the process.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The settings the peer declared, once the handshake is done. */
  get peerSettings(): Settings | undefined {
    return this.#peer;
  }

  /** Server: what the authentication hook returned for this client. */
  get principal(): unknown {
    return this.#principal;
  }

  get version(): number {
    return this.#version;
  }

  /**
   * Since when (clock time) the connection has had no open stream, or undefined while it has one
   * or before the handshake: a server that must make room closes the longest unused first.
   */
  get unusedSince(): number | undefined {
    return this.#state === 'open' ? this.#liveness.unusedSince : undefined;
  }

  /** Smoothed round-trip time from PINGs, 0 until measured. */
  get rttMs(): number {
    return this.#liveness.rttMs;
  }

  get isOpen(): boolean {
    return this.#state === 'open' && !this.#goaway.active;
  }

  get activeStreams(): number {
    return this.#streams.table.size;
  }

  /** Bytes received on all streams and not yet read by the application (bounded by the connection window). */
  get bufferedBytes(): number {
    return this.#connectionFlow.buffered;
  }

  /** Starts the handshake: the client sends HELLO, the server starts waiting for it (FW-HS-1, FW-HS-5). */
  start(): void {
    this.#transport.setMaxPayload(HANDSHAKE_MAX_PAYLOAD);
    if (this.role === 'client') {
      this.#sender.connectionFrame(FrameType.HELLO, 0, this.#handshake.clientHello!);
      this.#transport.flush();
    }
    this.#handshakeTimer = this.#clock.setTimeout(() => {
      this.#connectionError(new FramewireError('HANDSHAKE', `no HELLO within ${this.#o.limits.handshakeTimeoutMs} ms`));
    }, this.#o.limits.handshakeTimeoutMs);
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** One verified frame from the transport's decoder. */
  receive(raw: RawFrame): void {
    if (this.#state === 'closed') return;
    this.#liveness.markReceived();
    this.stats.framesIn++;
    try {
      // Payloads are parsed before any session check (§3.3 step 5 before §8, FW-FRAME-4), so a
      // malformed frame reports its own defect. DATA has no payload to parse.
      const frame = raw.type === FrameType.DATA ? undefined : parseFrame(raw);
      if (raw.stream === 0) this.#onConnectionFrame(raw, frame!);
      else if (this.#state !== 'open') throw new FramewireError('HANDSHAKE', `frame on stream ${raw.stream} before the handshake completed`);
      else this.#streams.onFrame(raw, frame);
    } catch (error) {
      // A coded error is the peer's fault; anything else is ours (a bug), reported as such.
      if (isFramewireError(error)) this.#connectionError(error);
      else this.#guard.fail(`receiving ${frameTypeName(raw.type)} on stream ${raw.stream}`, error);
    }
  }

  /** The transport's decoder failed (bad CRC, oversize frame …): a connection error we report to the peer. */
  transportError(error: unknown): void {
    if (isFramewireError(error)) this.#connectionError(error);
    else this.#guard.fail('decoding', error);
  }

  /**
   * @internal Runs a transport's callback (socket events) behind this connection's guard: an
   * exception closes this connection with INTERNAL, never the process.
   */
  guard(where: string, fn: () => void): void {
    this.#guard.run(where, fn);
  }

  /** What the guard does after reporting: the stream (if the work was a stream's) or the connection fails with INTERNAL. */
  #recover(streamId: number | undefined): void {
    this.stats.internalErrors++;
    if (this.#state === 'closed') {
      // Already over, perhaps half-way through #finish: make sure the transport goes too.
      this.#transport.close();
      return;
    }
    if (streamId !== undefined) {
      // A stream's work failed: that stream ends, the connection goes on. A stream that is gone needs nothing.
      this.#streams.table.get(streamId)?.fail('INTERNAL', 'internal error');
      return;
    }
    this.#connectionError(new FramewireError('INTERNAL', 'internal error'));
  }

  /** The transport closed. Streams still open fail with CONNECTION_LOST: a closed socket is never success (FW-CONN-3). */
  transportClosed(cause?: unknown): void {
    // Every entry point a transport calls runs behind the guard, whatever the transport (TCP, QUIC).
    this.#guard.run('transport closed', () => {
      this.#transportClosed(cause);
    });
  }

  #transportClosed(cause: unknown): void {
    if (this.#state === 'closed') return;
    // After a GOAWAY (sent or received), a close once every stream has its outcome is a clean end, not a
    // loss (§8.6), even if the application has not yet read what those streams received.
    if (this.#goaway.active && this.#streams.table.all().every((s) => s.ended)) {
      this.#finish(undefined, false);
      return;
    }
    const processedUnknown = new FramewireError('CONNECTION_LOST', lostMessage(cause), {
      cause,
      details: { processed: 'unknown' },
    });
    // EOF inside a frame: the connection's own failure is TRUNCATED; its streams still fail with CONNECTION_LOST (FW-FRAME-10).
    const truncated = isFramewireError(cause) && cause.code === 'TRUNCATED' ? cause : undefined;
    this.#finish(truncated ?? processedUnknown, false, processedUnknown);
  }

  /** The transport drained its buffer below the high-water mark. */
  writable(): void {
    this.#guard.run('transport writable', () => {
      this.#sender.schedule();
    });
  }

  #onConnectionFrame(raw: RawFrame, frame: Frame): void {
    if (raw.seq !== this.#receiveSeq0) throw new FramewireError('SEQ_ERROR', `stream 0: expected seq ${this.#receiveSeq0}, got ${raw.seq}`);
    this.#receiveSeq0 = (this.#receiveSeq0 + 1) >>> 0;
    if (this.#state !== 'open' && frame.type !== FrameType.HELLO && frame.type !== FrameType.ERROR) {
      throw new FramewireError('HANDSHAKE', `${frameName(frame)} before the handshake completed`);
    }
    switch (frame.type) {
      case FrameType.HELLO:
        this.#onHello(frame.payload);
        return;
      case FrameType.CREDIT:
        if (this.#connectionFlow.raiseSend(frame.payload)) this.#sender.schedule();
        return;
      case FrameType.ERROR: {
        const p = frame.payload;
        const error = FramewireError.fromWire(p.code, p.message, withOptional({ retryable: p.retryable, retryAfterMs: p.retryAfterMs, details: p.details }));
        this.log.info({ code: error.code, msg: p.message }, 'peer closed the connection with an error');
        // The receiver closes the transport too (FW-CONN-2): a peer that sends ERROR but keeps the socket open must not hold it.
        this.#finish(error, true);
        return;
      }
      case FrameType.PING:
        this.#liveness.onPing(frame.flags, frame.payload);
        return;
      case FrameType.GOAWAY:
        this.#goaway.onReceived(frame.payload.lastStream, frame.payload.code, frame.payload.message);
        return;
      case FrameType.OPEN:
      case FrameType.DATA:
      case FrameType.ACK:
      case FrameType.DONE:
      case FrameType.CANCEL:
        // The decoder rejects these on stream 0 (FW-FRAME-6); reaching here is a bug in the caller.
        throw new FramewireError('WRONG_STREAM_KIND', `${frameName(frame)} on stream 0`);
    }
  }

  #onHello(hello: HelloPayload): void {
    if (this.#state === 'open' || this.#state === 'authenticating') throw new FramewireError('HANDSHAKE', 'second HELLO');
    const version = this.#handshake.version(hello);
    if (this.role === 'client') {
      this.#established(version, hello);
      return;
    }
    if (this.#o.authenticate === undefined) {
      this.#acceptClient(version, hello, undefined);
      return;
    }
    this.#state = 'authenticating';
    this.#handshake.authenticate(hello.auth).then((result) => {
      if (result instanceof FramewireError) this.#connectionError(result);
      else if (this.#state !== 'closed') this.#acceptClient(version, hello, result.principal);
    }).catch(this.#guard.rejected('authentication'));
  }

  #acceptClient(version: number, hello: HelloPayload, principal: unknown): void {
    this.#principal = principal;
    this.#sender.connectionFrame(FrameType.HELLO, 0, this.#handshake.serverHello(version));
    this.#established(version, hello);
  }

  #established(version: number, hello: HelloPayload): void {
    this.#handshakeTimer?.cancel();
    this.#state = 'open';
    this.#version = version;
    // Absent keys take the registry defaults, not our own choices (FW-SET-1).
    this.#peer = { ...defaultSettings, ...hello.settings };
    this.#sender.sendLimit = this.#peer.maxFramePayload;
    this.#streams.link.packing = this.#handshake.packing(this.#peer, this.#transport.copyLimit);
    this.#connectionFlow.raiseSend(this.#peer.initialConnectionCredit);
    this.#transport.setMaxPayload(this.#o.settings.maxFramePayload);
    this.log.debug({ version, peer: this.#peer }, 'handshake complete');
    this.#liveness.start(this.#streams.table.size > 0);
    this.#streams.promotePendingOpens();
    this.#resolveReady();
    this.#sender.schedule();
  }

  // ---- opening streams ------------------------------------------------------------------------

  /**
   * Opens a stream. It may be written to at once; the OPEN frame waits for the handshake and for a
   * free slot under the peer's max_concurrent_streams (bounded by maxPendingOpens).
   */
  open(options: OpenOptions): Stream {
    if (this.#state === 'closed') {
      // Say why it closed: a lost connection is retryable on a new one, a closed one is not.
      const why = this.#endError;
      throw why === undefined
        ? new FramewireError('CLOSED', 'the connection is closed')
        : new FramewireError(why.code, `the connection is closed: ${why.message}`, { retryable: why.retryable, remote: why.remote, details: { processed: 'no' } });
    }
    if (this.#goaway.active) {
      throw new FramewireError('REFUSED_STREAM', 'the connection is going away: open a new one', { details: { processed: 'no' } });
    }
    return this.#streams.open(options).stream;
  }

  /** Measures the round-trip time with a PING (FW-HB-1). */
  ping(): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(new FramewireError('CLOSED', 'not connected'));
    return this.#liveness.ping();
  }

  // ---- ending ---------------------------------------------------------------------------------

  /**
   * Graceful shutdown (FW-GOAWAY-1): refuse new streams, let in-flight ones finish within the
   * deadline, then close. Resolves when the connection is closed.
   */
  goaway(options: { deadlineMs?: number; message?: string } = {}): Promise<void> {
    return this.#goaway.send(options);
  }

  /**
   * Closes now. With an error, sends it as ERROR on stream 0 and every open stream fails with it;
   * without, streams still open fail with CLOSED.
   */
  close(error?: FramewireError): void {
    if (this.#state === 'closed') return;
    if (error !== undefined) {
      this.#connectionError(toFramewireError(error));
      return;
    }
    if (this.#streams.table.size > 0 || this.#streams.table.pendingCount > 0) {
      this.#connectionError(new FramewireError('CLOSED', 'the connection was closed locally'));
      return;
    }
    this.#sender.run();
    this.#finish(undefined, true);
  }

  #connectionError(error: FramewireError): void {
    if (this.#state === 'closed') return;
    this.log.info({ code: error.code, err: error.message }, 'connection error');
    // The ERROR jumps every queue: it is the last frame we send (FW-CONN-1).
    this.#sender.connectionFrame(FrameType.ERROR, 0, safeErrorPayload(error, this.#sender.sendLimit));
    this.#finish(error, true);
  }

  /** Ends the session: every stream still open fails with `streamFailure`, else `error` (or CLOSED), timers stop, the transport closes. */
  #finish(error: FramewireError | undefined, closeTransport: boolean, streamFailure?: FramewireError): void {
    if (this.#state === 'closed') return;
    const wasHandshaking = this.#state !== 'open';
    this.#state = 'closed';
    this.#connectionFlow.close();
    this.#endError = streamFailure ?? error;
    this.#handshakeTimer?.cancel();
    this.#liveness.stop();
    this.#goaway.stop();
    const streamError = streamFailure ?? error ?? new FramewireError('CLOSED', 'the connection closed');
    for (const s of this.#streams.table.clear()) s.reset({ status: 'failed', error: this.#goaway.endFailure(s, streamError) });
    if (closeTransport) {
      try {
        this.#transport.flush();
      } finally {
        this.#transport.close();
      }
    }
    if (wasHandshaking) this.#rejectReady(error ?? streamError);
    if (error !== undefined) this.stats.countError(error.code);
    this.#resolveClosed({ error });
  }
}

function frameName(frame: { type: number }): string {
  return frameTypeName(frame.type);
}

/** A system error (ECONNRESET, EPIPE, ETIMEDOUT …) is named in the message, as node's own errors name it ("read ECONNRESET"). */
function lostMessage(cause: unknown): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (cause instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    const named = cause.message.includes(code) ? cause.message : `${cause.message} (${code})`;
    return `connection lost: ${named} (the connection closed before the stream ended)`;
  }
  return 'the connection closed before the stream ended';
}

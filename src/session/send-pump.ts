/**
 * The session's sending side (spec §8.4): control frames first (FW-SCHED-1), then DATA picked by
 * the scheduler within the credit the streams' flow objects allow, in bursts that yield to
 * incoming frames, with seq numbering per stream and direction and the peer's payload limit
 * checked on every frame (FW-FRAME-3). Deferral goes through the injected clock.
 */

import { FramewireError } from '../errors.ts';
import type { ConnectionFlow } from '../flow/index.ts';
import { FrameType, frameTypeName, HANDSHAKE_MAX_PAYLOAD } from '../wire/index.ts';
import type { DeferPhase } from './clock.ts';
import { ControlQueue, type ControlEntry, type ControlSink } from './control-queue.ts';
import type { FrameTransport } from './frame-transport.ts';
import type { Guard } from './guard.ts';
import type { ResolvedSessionOptions } from './options.ts';
import { Scheduler } from './scheduler.ts';
import type { SessionStats } from './stats.ts';
import type { StreamCore } from './stream-core.ts';

/** What the pump asks of its session. */
export interface PumpHost {
  readonly closed: () => boolean;
  /** The peer's max_frame_payload once the connection is open (DATA may flow), else undefined. */
  readonly dataLimit: () => number | undefined;
  /** The control queue is full: the peer does not read (a connection error). */
  readonly overflow: (error: FramewireError) => void;
}

/** What one DATA frame costs against the burst budget besides its payload: about its header. */
const FRAME_COST = 20;

export class SendPump {
  /** The largest payload the peer accepts from us now (FW-FRAME-3): 16 KiB until its HELLO, then its max_frame_payload. */
  sendLimit = HANDSHAKE_MAX_PAYLOAD;
  readonly #transport: FrameTransport;
  /** Per-stream transport backpressure (QUIC), absent over one byte stream. */
  readonly #streamBlocked: ((stream: number) => boolean) | undefined;
  readonly #stats: SessionStats;
  readonly #limits: ResolvedSessionOptions['limits'];
  readonly #connectionFlow: ConnectionFlow;
  readonly #guard: Guard;
  readonly #defer: (fn: () => void, phase: DeferPhase) => void;
  readonly #host: PumpHost;
  readonly #scheduler: Scheduler;
  readonly #control: ControlQueue;
  #sendSeq0 = 0;
  #scheduled = false;
  #yielding = false;

  constructor(
    transport: FrameTransport,
    options: { stats: SessionStats; limits: ResolvedSessionOptions['limits']; connectionFlow: ConnectionFlow; guard: Guard; defer: (fn: () => void, phase: DeferPhase) => void },
    host: PumpHost,
  ) {
    this.#transport = transport;
    this.#streamBlocked = transport.streamBlocked === undefined ? undefined : (stream) => transport.streamBlocked!(stream);
    this.#stats = options.stats;
    this.#limits = options.limits;
    this.#connectionFlow = options.connectionFlow;
    this.#guard = options.guard;
    this.#defer = options.defer;
    this.#host = host;
    this.#scheduler = new Scheduler(options.limits.schedulingPolicy);
    this.#control = new ControlQueue(options.limits.maxControlQueue);
  }

  /** A stream has something to send (or was unblocked). */
  wake(stream: StreamCore): void {
    this.#scheduler.add(stream);
    this.schedule();
  }

  queueControl(entry: ControlEntry): void {
    if (this.#host.closed()) return;
    this.#queued(this.#control.push(entry));
  }

  /** A CREDIT for `stream` (undefined: the connection), coalesced with one already queued. */
  queueCredit(stream: StreamCore | undefined): void {
    if (this.#host.closed()) return;
    this.#queued(this.#control.pushCredit(stream));
  }

  #queued(accepted: boolean): void {
    if (!accepted) {
      this.#host.overflow(new FramewireError('LIMIT_EXCEEDED', 'control queue full: the peer does not read'));
      return;
    }
    this.schedule();
  }

  /**
   * The pump runs on the clock's 'tick' (process.nextTick), not as a microtask: a nextTick queued
   * from a microtask runs only once the microtask queue is empty, so an application that calls
   * `await stream.write()` in a loop queues many messages before the pump turns them into one
   * socket write. A microtask pump would interleave with the writer and write (one syscall) per message.
   */
  schedule(): void {
    if (this.#scheduled || this.#yielding || this.#host.closed()) return;
    this.#scheduled = true;
    this.#defer(this.#runScheduled, 'tick');
  }

  readonly #runScheduled = (): void => {
    this.#scheduled = false;
    this.#guard.run('sending', this.#runFn);
  };

  readonly #afterYield = (): void => {
    this.#yielding = false;
    this.#guard.run('sending', this.#runFn);
  };

  readonly #runFn = (): void => {
    this.run();
  };

  /** Control first, then DATA by urgency and round-robin, in bursts that yield the event loop. */
  run(): void {
    if (this.#host.closed()) return;
    this.#drainControl();
    const maxFrame = this.#host.dataLimit();
    if (maxFrame !== undefined) {
      const highWater = this.#limits.transportHighWater;
      const stats = this.#stats;
      let budget = this.#limits.sendBurstBytes;
      while (budget > 0 && this.#transport.bufferedBytes < highWater) {
        const pick = this.#scheduler.next(maxFrame, this.#streamBlocked);
        if (pick === undefined) break;
        const { stream, sendable } = pick;
        if (sendable.type === FrameType.DATA) {
          this.streamFrame(stream, FrameType.DATA, sendable.flags, sendable.payload);
          stats.dataBytesOut += sendable.bytes;
          if (sendable.messages > 0) {
            stats.packedFramesOut++;
            stats.packedMessagesOut += sendable.messages;
          }
        } else if (sendable.payload.length > maxFrame) {
          // end() was called before the handshake told us the peer's limit.
          stream.fail('MESSAGE_TOO_LARGE', `the DONE trailer is ${sendable.payload.length} bytes; the peer accepts at most ${maxFrame}`);
          continue;
        } else {
          this.streamFrame(stream, FrameType.DONE, 0, sendable.payload);
        }
        stream.sent(sendable);
        budget -= sendable.bytes + FRAME_COST;
        if (this.#control.pending) this.#drainControl();
      }
      if (this.#connectionFlow.sendAvailable <= 0 && this.#scheduler.size > 0) stats.creditStalls++;
      if (budget <= 0 && this.#scheduler.size > 0) {
        // Yield so incoming frames (PING, CREDIT) are processed between bursts.
        this.#yielding = true;
        this.#defer(this.#afterYield, 'immediate');
      }
    }
    this.#transport.flush();
  }

  #drainControl(): void {
    this.#control.drain(this.#controlSink, this.#host.closed);
  }

  readonly #controlSink: ControlSink = {
    streamFrame: (stream, type, flags, payload) => {
      this.streamFrame(stream, type, flags, payload);
    },
    connectionFrame: (type, flags, payload) => {
      this.connectionFrame(type, flags, payload);
    },
    frame: (type, flags, stream, seq, payload) => {
      this.#write(type, flags, stream, seq, payload);
    },
    opened: (stream) => {
      stream.opened = true;
      if (stream.send.hasPending) this.#scheduler.add(stream);
    },
    connectionLimit: () => this.#connectionFlow.receiveLimit,
  };

  /** A frame on `stream`, numbered with its next seq. */
  streamFrame(stream: StreamCore, type: number, flags: number, payload: Uint8Array): void {
    const seq = stream.sendSeq;
    stream.sendSeq = (seq + 1) >>> 0;
    this.#write(type, flags, stream.id, seq, payload);
  }

  /** A frame on stream 0, numbered with its next seq (HELLO, and the connection's ERROR, which jumps every queue). */
  connectionFrame(type: number, flags: number, payload: Uint8Array): void {
    const seq = this.#sendSeq0;
    this.#sendSeq0 = (seq + 1) >>> 0;
    this.#write(type, flags, 0, seq, payload);
  }

  #write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    // Every payload was checked where it was made; one that still exceeds the peer's limit is our bug (FW-FRAME-3).
    if (payload.length > this.sendLimit) throw new Error(`${frameTypeName(type)} payload of ${payload.length} bytes exceeds the peer's limit of ${this.sendLimit}`);
    this.#stats.framesOut++;
    this.#transport.write(type, flags, stream, seq, payload);
  }
}

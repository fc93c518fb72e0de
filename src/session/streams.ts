/**
 * The streams of one connection (spec §8.2): the stream table, our opens (pending under the
 * peer's max_concurrent_streams), the peer's opens (accepted or refused), the routing of frames
 * on streams other than 0 to each stream's core, and the release of a stream's slot. The session
 * keeps the connection's state; what this needs of it is the narrow StreamsHost.
 */

import { ErrorCodes, FramewireError, isFramewireError, isLocalOnly, type ErrorCodeName } from '../errors.ts';
import type { ConnectionFlow } from '../flow/index.ts';
import { DataFlags, DEFAULT_URGENCY, encodeOpenPayload, FrameType, frameTypeName, MAX_URGENCY, rawPayloadLength, type ControlMap, type Frame, type RawFrame, type Settings } from '../wire/index.ts';
import type { Clock } from './clock.ts';
import { checkFits, checkString, encodeArgument, isPlainMap, isUint, safeErrorPayload } from './control-payload.ts';
import type { Guard } from './guard.ts';
import { withOptional } from './optional.ts';
import type { ResolvedSessionOptions } from './options.ts';
import type { SendPump } from './send-pump.ts';
import type { SessionStats } from './stats.ts';
import type { Stream } from './stream.ts';
import { StreamCore, type StreamLink } from './stream-core.ts';
import { StreamTable } from './stream-table.ts';
import { TokenBucket } from './token-bucket.ts';

/** What OPEN carries: the stream's kind, an optional target and metadata, and its urgency. */
export interface OpenOptions {
  readonly kind: string;
  readonly target?: string;
  readonly meta?: ControlMap;
  readonly urgency?: number;
}

/** What the streams need of their session. */
export interface StreamsHost {
  readonly connectionFlow: ConnectionFlow;
  readonly sender: SendPump;
  readonly guard: Guard;
  readonly stats: SessionStats;
  /** The peer's settings once the connection is open, else undefined. */
  peer(): Settings | undefined;
  /** We sent GOAWAY: the peer's new streams are refused. */
  goingAway(): boolean;
  /** Hands a stream the peer opened to the application; undefined: this side accepts none. */
  readonly handler: ((stream: Stream) => void | Promise<void>) | undefined;
  /** A stream was added: the connection is in use. */
  inUse(): void;
  /** The last stream was released: the connection is unused from now. */
  unused(): void;
  /** A stream was released (a GOAWAY drain may be over). */
  released(): void;
}

export class Streams {
  readonly table: StreamTable;
  readonly #o: ResolvedSessionOptions;
  readonly #host: StreamsHost;
  readonly #stats: SessionStats;
  readonly #link: StreamLink;
  readonly #resetBucket: TokenBucket;
  readonly #emptyBucket: TokenBucket;

  constructor(options: ResolvedSessionOptions, clock: Clock, host: StreamsHost) {
    this.#o = options;
    this.#host = host;
    this.#stats = host.stats;
    this.table = new StreamTable(options.role);
    const l = options.limits;
    this.#resetBucket = new TokenBucket(l.resetRatePerSecond, l.resetBurst, clock);
    this.#emptyBucket = new TokenBucket(l.emptyFrameRatePerSecond, l.emptyFrameBurst, clock);
    const sender = host.sender;
    this.#link = {
      connectionFlow: host.connectionFlow,
      wake: (stream) => {
        if (stream.opened) sender.wake(stream);
      },
      credit: (stream) => {
        sender.queueCredit(stream);
      },
      control: (entry) => {
        sender.queueControl(entry);
      },
      sendLimit: () => host.peer()?.maxFramePayload,
      release: (stream) => {
        this.#release(stream);
      },
      settled: (stream, outcome) => {
        if (outcome.status === 'completed') return;
        this.#stats.countStreamEnd(outcome.status, outcome.error.code);
        if (stream.log.isLevelEnabled('debug')) stream.log.debug({ outcome: outcome.status, code: outcome.error.code, remote: outcome.error.remote }, 'stream ended');
      },
      logger: options.logger,
      packing: undefined,
    };
  }

  /** The link every stream shares: the handshake sets how we may pack (spec §8.2.6). */
  get link(): StreamLink {
    return this.#link;
  }

  /** Opens our stream: checked and encoded here, so bad arguments fail where they were given, not in the pump. */
  open(options: OpenOptions): StreamCore {
    if (this.table.pendingCount >= this.#o.limits.maxPendingOpens) {
      throw new FramewireError('LIMIT_EXCEEDED', `more than ${this.#o.limits.maxPendingOpens} streams waiting to open`);
    }
    const openPayload = encodeOpen(options);
    const peer = this.#host.peer();
    if (peer !== undefined) checkFits('the OPEN payload (kind, target, meta)', openPayload, peer.maxFramePayload);
    const stream = this.add(this.table.allocateLocalId(), true, options, openPayload);
    this.table.queuePending(stream);
    this.promotePendingOpens();
    return stream;
  }

  /** A frame on a stream (not 0), once the connection is open. */
  onFrame(raw: RawFrame, frame: Frame | undefined): void {
    const stream = this.table.get(raw.stream);
    if (stream === undefined) {
      this.#onUnknownStream(raw, frame);
      return;
    }
    // Checked before seq: a peer that reuses a live id numbers its new OPEN 0, and the fault is the id (FW-STREAM-2).
    if (raw.type === FrameType.OPEN) throw new FramewireError('STREAM_ID', `OPEN for stream ${raw.stream}, which is already open`);
    // Our stream still waits for a slot: its OPEN was never sent, so the peer cannot know the id (FW-STREAM-11).
    if (stream.local && !stream.opened) throw new FramewireError('PROTOCOL_ERROR', `${frameTypeName(raw.type)} on stream ${raw.stream}, which was never opened`);
    if (raw.seq !== stream.receiveSeq) {
      throw new FramewireError('SEQ_ERROR', `stream ${raw.stream}: expected seq ${stream.receiveSeq}, got ${raw.seq}`);
    }
    stream.receiveSeq = (stream.receiveSeq + 1) >>> 0;
    if (frame === undefined) {
      this.#onData(stream, raw);
      return;
    }
    switch (frame.type) {
      case FrameType.OPEN:
        throw new FramewireError('STREAM_ID', `OPEN for stream ${raw.stream}, which is already open`);
      case FrameType.CREDIT:
        stream.onCredit(frame.payload);
        return;
      case FrameType.ACK:
        stream.onAck(frame.payload);
        return;
      case FrameType.DONE:
        stream.onDone(frame.payload.trailer);
        return;
      case FrameType.ERROR: {
        const p = frame.payload;
        const error = FramewireError.fromWire(p.code, p.message, withOptional({ streamId: stream.id, retryable: p.retryable, retryAfterMs: p.retryAfterMs, details: p.details }));
        stream.reset({ status: 'failed', error });
        return;
      }
      case FrameType.CANCEL: {
        const p = frame.payload;
        if (!stream.local && !this.#resetBucket.take()) {
          throw new FramewireError('ENHANCE_YOUR_CALM', `more than ${this.#o.limits.resetRatePerSecond} streams/s cancelled by the peer`);
        }
        const error = FramewireError.fromWire(p.code ?? ErrorCodes.CANCELLED.code, p.reason ?? 'cancelled by the peer', { streamId: stream.id });
        stream.reset({ status: 'cancelled', error });
        return;
      }
      case FrameType.DATA:
      case FrameType.HELLO:
      case FrameType.PING:
      case FrameType.GOAWAY:
        throw new FramewireError('WRONG_STREAM_KIND', `${frameName(frame)} on stream ${raw.stream}`);
    }
  }

  #onData(stream: StreamCore, raw: RawFrame): void {
    if ((raw.flags & DataFlags.PACKED) !== 0) {
      if (this.#o.settings.packedMessages !== 1) {
        throw new FramewireError('PROTOCOL_ERROR', `PACKED DATA on stream ${raw.stream}, but we declared packed_messages = 0 (FW-PACK-1)`);
      }
      this.#stats.packedFramesIn++;
    }
    // rawPayloadLength: a piecewise payload (RawFrame.parts) must not be joined just to be counted.
    const n = rawPayloadLength(raw);
    if (n === 0 && !this.#emptyBucket.take()) {
      throw new FramewireError('ENHANCE_YOUR_CALM', 'flood of empty DATA frames');
    }
    stream.onData(n, raw.parts === undefined ? raw.payload : EMPTY, raw.flags, raw.parts);
    this.#stats.dataBytesIn += n;
  }

  #onUnknownStream(raw: RawFrame, frame: Frame | undefined): void {
    const id = raw.stream;
    if (raw.type === FrameType.OPEN) {
      this.table.acceptPeerId(id);
      if (raw.seq !== 0) throw new FramewireError('SEQ_ERROR', `OPEN of stream ${id} must have seq 0, got ${raw.seq}`);
      if (frame !== undefined) this.#onOpen(id, frame);
      return;
    }
    if (!this.table.wasOpened(id)) throw new FramewireError('PROTOCOL_ERROR', `${frameName(raw)} on stream ${id}, which was never opened`);
    // A closed stream: frames in flight when it ended are discarded (FW-STREAM-8); DATA still counts,
    // and so do empty frames, or closed ids would be a way around the flood limit (FW-LIMIT-4).
    if (raw.type === FrameType.DATA) {
      const n = rawPayloadLength(raw);
      if (n === 0 && !this.#emptyBucket.take()) throw new FramewireError('ENHANCE_YOUR_CALM', 'flood of empty DATA frames');
      this.#host.connectionFlow.discard(n);
    }
  }

  #onOpen(id: number, frame: Frame): void {
    if (frame.type !== FrameType.OPEN) return;
    const refuse = (code: ErrorCodeName, message: string): void => {
      this.#stats.streamsRefused++;
      if (!this.#resetBucket.take()) {
        throw new FramewireError('ENHANCE_YOUR_CALM', 'the peer keeps opening streams that are refused');
      }
      this.#host.sender.queueControl({ kind: 'refuse', streamId: id, payload: safeErrorPayload(new FramewireError(code, message, { streamId: id }), this.#host.sender.sendLimit) });
    };
    if (this.#host.goingAway()) {
      refuse('REFUSED_STREAM', 'connection is going away');
      return;
    }
    if (this.table.peerActive >= this.#o.settings.maxConcurrentStreams) {
      refuse('REFUSED_STREAM', `max_concurrent_streams (${this.#o.settings.maxConcurrentStreams}) reached`);
      return;
    }
    const p = frame.payload;
    const stream = this.add(id, false, { kind: p.kind, ...withOptional({ target: p.target, meta: p.meta, urgency: p.urgency }) });
    stream.receiveSeq = 1;
    stream.flow.raiseSend(this.#host.peer()!.initialStreamCredit);
    this.#stats.streamsOpened++;
    const handler = this.#host.handler;
    if (handler === undefined) {
      stream.fail('REFUSED_STREAM', `this ${this.#o.role} accepts no streams`);
      return;
    }
    try {
      const result = handler(stream.stream);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          this.#failFromHandler(stream, error);
        });
      }
    } catch (error) {
      this.#failFromHandler(stream, error);
    }
  }

  /**
   * A handler's failure goes to the peer with everything it said: code, retry hint and details. An
   * exception that is not a coded error (or has a local-only code) while the stream is still live is
   * a bug in the handler: reported by the guard, and the stream fails with INTERNAL.
   */
  #failFromHandler(stream: StreamCore, error: unknown): void {
    // A stream that already has its outcome: the handler merely saw that (its read or write failed).
    if (stream.ended) return;
    if (!isFramewireError(error) || isLocalOnly(error.code)) {
      this.#host.guard.fail(`the handler of stream ${stream.id} (${stream.kind})`, error, stream.id);
      return;
    }
    this.#host.guard.run(`failing stream ${stream.id}`, () => {
      stream.fail(error.code, error.message, withOptional({ retryable: error.retryable, retryAfterMs: error.retryAfterMs, details: error.details }));
    }, stream.id);
  }

  /** A new stream in the table (ours with its encoded OPEN payload, or the peer's). */
  add(id: number, local: boolean, o: OpenOptions, openPayload?: Uint8Array): StreamCore {
    const stream = new StreamCore(this.#link, {
      id,
      local,
      kind: o.kind,
      target: o.target,
      meta: o.meta,
      urgency: o.urgency ?? DEFAULT_URGENCY,
      receiveWindow: this.#o.settings.initialStreamCredit,
      maxReceiveWindow: Math.max(this.#o.limits.maxStreamWindow, this.#o.settings.initialStreamCredit),
      maxMessageSize: this.#o.settings.maxMessageSize,
      writeBuffer: this.#o.limits.streamWriteBuffer,
      ...(openPayload === undefined ? {} : { openPayload }),
    });
    this.table.add(stream);
    this.#host.inUse();
    return stream;
  }

  /** Our pending streams that fit under the peer's max_concurrent_streams send their OPEN (once the connection is open). */
  promotePendingOpens(): void {
    const peer = this.#host.peer();
    if (peer === undefined) return;
    for (const stream of this.table.takeOpenable(peer.maxConcurrentStreams)) {
      const limit = peer.maxFramePayload;
      if (stream.openPayload !== undefined && stream.openPayload.length > limit) {
        // Opened before the handshake told us the peer's limit: it fails here, never on the wire.
        stream.reset({ status: 'failed', error: new FramewireError('MESSAGE_TOO_LARGE', `the OPEN payload is ${stream.openPayload.length} bytes; the peer accepts at most ${limit}`, { streamId: stream.id, details: { processed: 'no' } }) });
        continue;
      }
      stream.flow.raiseSend(peer.initialStreamCredit);
      this.#stats.streamsOpened++;
      this.#host.sender.queueControl({ kind: 'open', stream });
    }
  }

  #release(stream: StreamCore): void {
    if (!this.table.remove(stream)) return;
    if (this.table.size === 0) this.#host.unused();
    this.promotePendingOpens();
    this.#host.released();
  }

}

/** The OPEN payload for `o`, checked like the receiver checks it (§7.2): INVALID_ARGUMENT otherwise. */
function encodeOpen(o: OpenOptions): Uint8Array {
  checkString('kind', o.kind, 1, OPEN_KIND_MAX);
  if (o.target !== undefined) checkString('target', o.target, 0, OPEN_TARGET_MAX);
  if (o.urgency !== undefined && !(isUint(o.urgency) && o.urgency <= MAX_URGENCY)) throw new FramewireError('INVALID_ARGUMENT', `urgency must be an integer in 0..${MAX_URGENCY}, got ${String(o.urgency)}`);
  if (o.meta !== undefined && !isPlainMap(o.meta)) throw new FramewireError('INVALID_ARGUMENT', 'meta must be a plain object (a MessagePack map)');
  return encodeArgument('the OPEN meta', () =>
    encodeOpenPayload(withOptional({ kind: o.kind, target: o.target, meta: o.meta, urgency: o.urgency === DEFAULT_URGENCY ? undefined : o.urgency })),
  );
}

/** The longest kind and target a receiver accepts (§7.2). */
const OPEN_KIND_MAX = 128;
const OPEN_TARGET_MAX = 4096;

function frameName(frame: { type: number }): string {
  return frameTypeName(frame.type);
}

const EMPTY = new Uint8Array(0);

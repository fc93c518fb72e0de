/**
 * One QUIC stream as the QUIC transport uses it: the control stream, or the stream of one framewire
 * stream (spec §14.2). Frames out are packed by a FrameBatch and written one write at a time (the
 * binding's writes must not overlap), frames in come from a decoder of their own: a lost packet
 * delays only this channel's frames. Every library call is guarded: a synchronous throw or a
 * rejection is reported to the host, never left to escape.
 */

import { FramewireError, toFramewireError } from '../../errors.ts';
import { FrameBatch, FrameDecoder, FrameType, HANDSHAKE_MAX_PAYLOAD, type RawFrame } from '../../wire/index.ts';
import type { QuicStream } from './binding.ts';
import { classifyQuicFailure, guarded } from './failure.ts';

export interface ChannelHost {
  /** A verified frame arrived on this channel. */
  frame(channel: Channel, frame: RawFrame): void;
  /** The channel failed: a coded error for the connection. */
  failed(channel: Channel, error: FramewireError): void;
  /** The peer finished its half cleanly (after whole frames). */
  readEnded(channel: Channel): void;
  /** The queue fell below the high-water mark again. */
  drained(channel: Channel): void;
  /** Both halves are done: the channel can be forgotten. */
  closed(channel: Channel): void;
}

/** Reads start small (a ping stream allocates little) and double while they come back full. */
const MIN_READ = 16 * 1024;
const MAX_READ = 256 * 1024;

export class Channel {
  /** The framewire stream this channel carries: 0 for the control stream, -1 until the first frame binds it. */
  id: number;
  readonly #host: ChannelHost;
  readonly #highWater: number;
  #quic: QuicStream | undefined;
  // Small payloads are copied (CREDIT, ACK, pings); large ones are referenced until written.
  readonly #batch = new FrameBatch({ copyThreshold: 16 * 1024, slabSize: 64 * 1024 });
  readonly #decoder: FrameDecoder;
  #inFlight = 0;
  #writing = false;
  #wasBlocked = false;
  #finishWanted = false;
  #writeDone = false;
  #readDone = false;
  #paused = false;
  #reading = false;
  #readSize = MIN_READ;
  #failed = false;
  /**
   * The peer's bytes stopped decoding (a bad frame, a FIN inside one): what follows is read and
   * dropped, so that the peer's FIN is still seen, while our half keeps writing — the session's
   * coded ERROR and our FIN must still go out (FW-CONN-1, FW-QUIC-8).
   */
  #garbled = false;

  /** Frames we sent and received that end the framewire stream (spec FW-QUIC-6). */
  sentDone = false;
  receivedDone = false;
  sentReset = false;
  receivedReset = false;

  constructor(host: ChannelHost, id: number, highWater: number, maxPayload: number, quic?: QuicStream) {
    this.#host = host;
    this.id = id;
    this.#highWater = highWater;
    this.#quic = quic;
    this.#decoder = new FrameDecoder({ maxPayload: Math.max(maxPayload, HANDSHAKE_MAX_PAYLOAD), keepPieces: true }, (frame) => {
      this.#host.frame(this, frame);
    });
  }

  /** The framewire stream is over in both directions: nothing more will be written (FW-QUIC-6). */
  get over(): boolean {
    return this.sentReset || this.receivedReset || (this.sentDone && this.receivedDone);
  }

  get readEnded(): boolean {
    return this.#readDone;
  }

  /** Bytes queued and in flight: the channel stops taking DATA above the high-water mark. */
  get queuedBytes(): number {
    return this.#batch.byteLength + this.#inFlight;
  }

  get blocked(): boolean {
    return this.queuedBytes >= this.#highWater;
  }

  /** The QUIC stream, once outboundStream() resolved: queued frames start to flow. */
  connect(quic: QuicStream): void {
    this.#quic = quic;
    this.flush();
    this.startReading();
  }

  setMaxPayload(maxPayload: number): void {
    this.#decoder.setMaxPayload(maxPayload);
  }

  /** Queues a frame; false when the write half is already finished (the frame is dropped). */
  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): boolean {
    if (this.#finishWanted || this.#failed) return false;
    this.#batch.push(type, flags, stream, seq, payload);
    if (type === FrameType.DONE) this.sentDone = true;
    else if (type === FrameType.CANCEL || type === FrameType.ERROR) this.sentReset = true;
    if (this.blocked) this.#wasBlocked = true;
    return true;
  }

  /** Starts a write of what is queued, unless one is running (its completion starts the next). */
  flush(): void {
    if (this.#writing || this.#quic === undefined || this.#failed) return;
    const quic = this.#quic;
    if (this.#batch.byteLength === 0) {
      if (this.#finishWanted && !this.#writeDone) this.#finishNow(quic);
      return;
    }
    const { chunks, written } = this.#batch.takeForWrite();
    // One write per burst: frames queued while a write runs go out together in the next one.
    const data = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
    if (chunks.length > 1) written();
    this.#inFlight = data.length;
    this.#writing = true;
    guarded(() => quic.write(data)).then(
      () => {
        written();
        this.#writing = false;
        this.#inFlight = 0;
        if (this.#wasBlocked && !this.blocked) {
          this.#wasBlocked = false;
          this.#host.drained(this);
        }
        this.flush();
      },
      (error: unknown) => {
        written();
        this.#writing = false;
        this.#inFlight = 0;
        this.#fail(error, 'write');
      },
    );
  }

  /** Finishes the write half (FIN) once everything queued is written; later frames are dropped. */
  finish(): void {
    if (this.#finishWanted) return;
    this.#finishWanted = true;
    this.flush();
  }

  #finishNow(quic: QuicStream): void {
    this.#writeDone = true;
    guarded(() => quic.finishWrite()).then(
      () => {
        this.#maybeClosed();
      },
      (error: unknown) => {
        this.#fail(error, 'finish');
      },
    );
  }

  /** Stops reading after the current chunk (used to deliver new streams' OPENs in id order). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.startReading();
  }

  startReading(): void {
    if (this.#reading || this.#paused || this.#readDone || this.#failed || this.#quic === undefined) return;
    this.#reading = true;
    const quic = this.#quic;
    guarded(() => quic.read(this.#readSize)).then(
      (chunk) => {
        this.#reading = false;
        if (this.#failed) return;
        if (chunk === null) {
          this.#endOfInput();
          return;
        }
        if (chunk.length === this.#readSize) this.#readSize = Math.min(MAX_READ, this.#readSize * 2);
        else if (chunk.length < this.#readSize / 4) this.#readSize = Math.max(MIN_READ, this.#readSize / 2);
        if (!this.#garbled) {
          try {
            this.#decoder.push(chunk);
          } catch (error) {
            this.#garbled = true;
            this.#host.failed(this, toFramewireError(error, 'PROTOCOL_ERROR'));
          }
        }
        this.startReading();
      },
      (error: unknown) => {
        this.#reading = false;
        this.#fail(error, 'read');
      },
    );
  }

  #endOfInput(): void {
    this.#readDone = true;
    if (!this.#garbled && !this.#decoder.atBoundary) {
      // Not TRUNCATED, as at the end of a TCP byte stream (FW-FRAME-10): the peer ended its half
      // inside a frame and is still there to be told of its violation (FW-QUIC-6).
      this.#garbled = true;
      const received = this.#decoder.bufferedBytes;
      this.#host.failed(this, new FramewireError('PROTOCOL_ERROR', `the peer ended the QUIC stream of stream ${this.id} inside a frame, ${received} bytes of it received (FW-QUIC-6)`));
    }
    this.#host.readEnded(this);
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#readDone && this.#writeDone && !this.#writing) this.#host.closed(this);
  }

  #fail(error: unknown, operation: string): void {
    if (this.#failed) return;
    const failure = classifyQuicFailure(error, operation, this.id);
    // A stream the peer reset or stopped after its framewire stream ended costs nothing (FW-QUIC-7).
    if (failure.streamOnly && this.over) {
      this.#readDone = true;
      this.#writeDone = true;
      this.#host.closed(this);
      return;
    }
    this.#failed = true;
    this.#host.failed(this, failure.error);
  }

  /** Drops what is queued: the connection is gone. */
  discard(): void {
    this.#failed = true;
    this.#batch.take();
  }
}

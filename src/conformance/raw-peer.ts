/**
 * The raw peer: a client that speaks framewire byte by byte over TCP or QUIC (a link, link.ts),
 * with no session behind it, so it can send what a correct peer never would (bad CRCs, wrong seqs,
 * frames after the end). Frames are built with src/wire only (ARCHITECTURE.md L6: never session/).
 *
 * Everything it receives is kept: the raw bytes (to tell a bare close from a coded ERROR), the
 * decoded frames in arrival order, and how the connection ended. Every wait has a timeout.
 * Frames of the target are checked on the way in against the sender-side rules the runner can
 * see (seq numbering, reserved bits, undefined flags, never-sent codes, PACKED frames only when
 * we declared packed_messages = 1 and only well formed); breaches are recorded in `violations`
 * for the cases that judge them.
 */

import { errorCodeName } from '../errors.ts';
import { buildFrame, type FrameParts } from './bytes.ts';
import type { LinkSink, PeerLink, Transport } from './link.ts';
import { QuicLink, type QuicControls } from './quic-link.ts';
import { TcpLink } from './tcp-link.ts';
import { unpackRecords } from './packed-records.ts';
import {
  encodeCreditPayload,
  encodeFrame,
  FrameDecoder,
  FrameType,
  frameTypeName,
  MAX_PAYLOAD_CEILING,
  parseFrame,
  PingFlags,
  DataFlags,
  type Frame,
  type HelloPayload,
  type RawFrame,
  type Settings,
} from '../wire/index.ts';

/** One frame as received: header fields, a copy of the payload, and its parsed form (or why it did not parse). */
export interface Received {
  readonly raw: RawFrame;
  readonly frame: Frame | undefined;
  readonly parseError: string | undefined;
  readonly at: number;
}

/** How the connection ended, as seen from the raw peer. */
export interface Ending {
  readonly how: 'eof' | 'reset' | 'local';
  /** The target's bytes ended exactly between two frames. */
  readonly atBoundary: boolean;
  readonly at: number;
  readonly error?: string;
}

export type PeerEvent = { readonly kind: 'frame'; readonly received: Received } | { readonly kind: 'end'; readonly ending: Ending };

export interface RawPeerOptions {
  readonly host: string;
  readonly port: number;
  /** Default 'tcp'. */
  readonly transport?: Transport;
  /** QUIC: the target's peer id to pin (FW-QUIC-11). */
  readonly peerId?: string;
  readonly connectTimeoutMs: number;
  /** Answer the target's PINGs (with the right seq) as a correct client would. Default true. */
  readonly autoPong?: boolean;
}

/** A recorded breach of a sender-side rule by the target. */
export interface Violation {
  readonly requirement: string;
  readonly message: string;
}

const NEVER_SENT = new Set([0x11, 0x1a]); // CONNECTION_LOST, TRUNCATED (FW-ERR-2)

export class RawPeer implements LinkSink {
  readonly link: PeerLink;
  /** Every frame received, in order. */
  readonly frames: Received[] = [];
  readonly violations: Violation[] = [];
  /** Bytes received in all (the byte-level view). */
  bytesReceived = 0;
  ending: Ending | undefined;
  /** The target's bytes could not be decoded (a target bug): why. */
  decodeError: string | undefined;
  autoPong: boolean;
  /** Called for every frame after it is recorded (the connection helper hooks flow control here). */
  onFrame: ((r: Received) => void) | undefined;

  /** One framing per byte stream of the target (TCP: one; QUIC: one per QUIC stream). */
  readonly #decoders = new Map<object, FrameDecoder>();
  readonly #events: PeerEvent[] = [];
  #cursor = 0;
  readonly #listeners = new Set<() => void>();
  /** Our next seq per stream id (FW-SEQ-1). */
  readonly #sendSeq = new Map<number, number>();
  /** The target's next expected seq per stream id. */
  readonly #recvSeq = new Map<number, number>();
  /** Streams on which the target sent DONE, ERROR or CANCEL, and on which we sent ERROR/CANCEL. */
  readonly targetEnded = new Map<number, 'done' | 'error' | 'cancel'>();
  /** Our HELLO declared packed_messages = 1: the target may send PACKED DATA (FW-PACK-1). */
  declaredPacked = false;
  /** Streams on which the target's last plain DATA had FOLLOWS set (a message of its is unfinished). */
  readonly #unfinished = new Set<number>();

  private constructor(link: PeerLink, autoPong: boolean) {
    this.link = link;
    this.autoPong = autoPong;
    link.start(this);
  }

  static async connect(options: RawPeerOptions): Promise<RawPeer> {
    const where = { host: options.host, port: options.port, connectTimeoutMs: options.connectTimeoutMs };
    const link = options.transport === 'quic' ? await QuicLink.connect({ ...where, ...(options.peerId === undefined ? {} : { peerId: options.peerId }) }) : await TcpLink.connect(where);
    return new RawPeer(link, options.autoPong ?? true);
  }

  /** The QUIC mapping's own controls (FW-QUIC-* cases); undefined over TCP. */
  get quic(): QuicControls | undefined {
    return this.link.quic;
  }

  /** LinkSink: bytes of one of the target's byte streams. */
  received(source: object, chunk: Uint8Array): void {
    this.bytesReceived += chunk.length;
    if (this.decodeError !== undefined) return;
    let decoder = this.#decoders.get(source);
    if (decoder === undefined) {
      decoder = new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING }, (raw) => {
        this.#onFrame(raw);
      });
      this.#decoders.set(source, decoder);
    }
    try {
      decoder.push(chunk);
    } catch (error) {
      this.decodeError = error instanceof Error ? error.message : String(error);
      this.violations.push({ requirement: 'FW-FRAME-1', message: `the target sent bytes that do not decode: ${this.decodeError}` });
    }
  }

  /** LinkSink: wakes the waits of the case. */
  changed(): void {
    this.#notify();
  }

  /** LinkSink: the connection ended. */
  ended(how: Ending['how'], error?: string): void {
    this.#end(how, error);
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Our next seq on a stream, advancing the counter. */
  takeSeq(stream: number): number {
    const seq = this.#sendSeq.get(stream) ?? 0;
    this.#sendSeq.set(stream, (seq + 1) >>> 0);
    return seq;
  }

  /** Our next seq on a stream without advancing it. */
  peekSeq(stream: number): number {
    return this.#sendSeq.get(stream) ?? 0;
  }

  /** Bytes as they are: the caller owns framing. */
  sendBytes(bytes: Uint8Array): void {
    this.link.send(bytes);
  }

  /** Encodes a typed frame; `seq` absent = the next seq of its stream. Returns the bytes (not sent when `send` is false). */
  frame(frame: Omit<Frame, 'seq'> & { seq?: number }, send = true): Buffer {
    const seq = frame.seq ?? this.takeSeq(frame.stream);
    const bytes = encodeFrame({ ...frame, seq } as Frame);
    if (send) this.sendBytes(bytes);
    return bytes;
  }

  /** A frame from raw parts, with optional corruption (see bytes.ts); `seq` absent = the next seq of its stream. */
  rawFrame(parts: Omit<FrameParts, 'seq'> & { seq?: number }, send = true): Buffer {
    const bytes = buildFrame({ ...parts, seq: parts.seq ?? this.takeSeq(parts.stream) });
    if (send) this.sendBytes(bytes);
    return bytes;
  }

  hello(payload: Partial<HelloPayload> & { settings?: Partial<Settings> } = {}, send = true): Buffer {
    this.declaredPacked = payload.settings?.packedMessages === 1;
    return this.frame({ type: FrameType.HELLO, flags: 0, stream: 0, payload: { versions: [1], settings: {}, ...payload } }, send);
  }

  open(stream: number, kind: string, extra: { target?: string; meta?: Record<string, unknown>; urgency?: number } = {}, send = true): Buffer {
    return this.frame({ type: FrameType.OPEN, flags: 0, stream, payload: { kind, ...extra } }, send);
  }

  data(stream: number, payload: Uint8Array, follows = false, send = true): Buffer {
    return this.frame({ type: FrameType.DATA, flags: follows ? DataFlags.FOLLOWS : 0, stream, payload }, send);
  }

  done(stream: number, trailer?: Record<string, unknown>, send = true): Buffer {
    return this.frame({ type: FrameType.DONE, flags: 0, stream, payload: trailer === undefined ? {} : { trailer } }, send);
  }

  credit(stream: number, offset: number, send = true): Buffer {
    return this.rawFrame({ type: FrameType.CREDIT, stream, payload: encodeCreditPayload(offset) }, send);
  }

  cancel(stream: number, payload: { code?: number; reason?: string } = {}, send = true): Buffer {
    return this.frame({ type: FrameType.CANCEL, flags: 0, stream, payload }, send);
  }

  error(stream: number, code: number, message = 'conformance runner', send = true): Buffer {
    return this.frame({ type: FrameType.ERROR, flags: 0, stream, payload: { code, message } }, send);
  }

  ping(payload: Uint8Array, ack = false, send = true): Buffer {
    return this.frame({ type: FrameType.PING, flags: ack ? PingFlags.ACK : 0, stream: 0, payload }, send);
  }

  /** Half-closes our side (FIN; over QUIC on every stream we write, the control stream last): the target sees EOF, we can still read. */
  endOutput(): void {
    this.link.endOutput();
  }

  destroy(): void {
    this.link.destroy();
  }

  // ---- receiving -----------------------------------------------------------------------------

  /**
   * The next event (frame or end) after the ones already consumed, or undefined on timeout.
   * Events are never lost: `mark()`/`rewind()` let a case scan ahead and come back.
   */
  async next(timeoutMs: number): Promise<PeerEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.#events[this.#cursor];
      if (event !== undefined) {
        this.#cursor++;
        return event;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.arrival(left);
    }
  }

  /** Resolves at the next frame or end (or after `timeoutMs`), without consuming anything. */
  arrival(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#listeners.add(done);
    });
  }

  /** Polls `check` at every arrival until it returns a value other than undefined, or the timeout. */
  async until<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0 || this.ending !== undefined) return check();
      await this.arrival(left);
    }
  }

  /** Skips every event received so far. */
  drain(): void {
    this.#cursor = this.#events.length;
  }

  /**
   * Waits for the first frame matching `match` (skipping others), or the end of the connection,
   * or the timeout. Returns the frame, or the ending, or undefined.
   */
  async waitFor(match: (r: Received) => boolean, timeoutMs: number): Promise<Received | Ending | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(0, deadline - Date.now()));
      if (event === undefined) return undefined;
      if (event.kind === 'end') return event.ending;
      if (match(event.received)) return event.received;
    }
  }

  /** Resolves when the connection has ended, or undefined on timeout. */
  async waitEnd(timeoutMs: number): Promise<Ending | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.ending === undefined && Date.now() < deadline) await this.arrival(deadline - Date.now());
    return this.ending;
  }

  /** Frames received on a stream so far. */
  framesOn(stream: number): Received[] {
    return this.frames.filter((r) => r.raw.stream === stream);
  }

  #onFrame(raw: RawFrame): void {
    const copy: RawFrame = { type: raw.type, flags: raw.flags, stream: raw.stream, seq: raw.seq, payload: Uint8Array.from(raw.payload) };
    let frame: Frame | undefined;
    let parseError: string | undefined;
    try {
      frame = parseFrame(copy);
    } catch (error) {
      parseError = error instanceof Error ? error.message : String(error);
      this.violations.push({ requirement: 'FW-CTRL-1', message: `the target sent ${frameTypeName(raw.type)} on stream ${raw.stream} whose payload does not parse: ${parseError}` });
    }
    this.#checkSenderRules(copy, frame);
    const received: Received = { raw: copy, frame, parseError, at: Date.now() };
    this.frames.push(received);
    this.#events.push({ kind: 'frame', received });
    if (this.autoPong && frame?.type === FrameType.PING && (frame.flags & PingFlags.ACK) === 0) {
      this.ping(frame.payload, true);
    }
    this.onFrame?.(received);
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #checkSenderRules(raw: RawFrame, frame: Frame | undefined): void {
    const expected = this.#recvSeq.get(raw.stream) ?? 0;
    if (raw.seq !== expected) {
      this.violations.push({ requirement: 'FW-SEQ-1', message: `the target sent ${frameTypeName(raw.type)} on stream ${raw.stream} with seq ${raw.seq}, expected ${expected}` });
    }
    this.#recvSeq.set(raw.stream, (raw.seq + 1) >>> 0);
    const definedFlags = raw.type === FrameType.DATA ? DataFlags.FOLLOWS | DataFlags.PACKED : raw.type === FrameType.PING ? PingFlags.ACK : 0;
    if ((raw.flags & ~definedFlags) !== 0) {
      this.violations.push({ requirement: 'FW-FRAME-9', message: `the target sent ${frameTypeName(raw.type)} with undefined flag bits 0x${raw.flags.toString(16)}` });
    }
    if (raw.type === FrameType.DATA) this.#checkData(raw);
    if (frame === undefined) return;
    const ended = this.targetEnded.get(raw.stream);
    if (raw.stream !== 0 && ended !== undefined && frame.type !== FrameType.CREDIT && frame.type !== FrameType.ACK) {
      if (ended === 'done' && (frame.type === FrameType.DATA || frame.type === FrameType.DONE)) {
        this.violations.push({ requirement: 'FW-STREAM-4', message: `the target sent ${frameTypeName(frame.type)} on stream ${raw.stream} after its DONE` });
      } else if (ended !== 'done') {
        this.violations.push({ requirement: 'FW-STREAM-5', message: `the target sent ${frameTypeName(frame.type)} on stream ${raw.stream} after it had sent ${ended.toUpperCase()}` });
      }
    }
    if (raw.stream !== 0 && frame.type === FrameType.DONE && ended === undefined) this.targetEnded.set(raw.stream, 'done');
    if (raw.stream !== 0 && frame.type === FrameType.ERROR) this.targetEnded.set(raw.stream, 'error');
    if (raw.stream !== 0 && frame.type === FrameType.CANCEL) this.targetEnded.set(raw.stream, 'cancel');
    if (frame.type === FrameType.ERROR && NEVER_SENT.has(frame.payload.code)) {
      this.violations.push({ requirement: 'FW-ERR-2', message: `the target sent ERROR ${describeCode(frame.payload.code)}, a code that is never sent` });
    }
    if (frame.type === FrameType.HELLO && frame.payload.auth !== undefined) {
      this.violations.push({ requirement: 'FW-HELLO-2', message: 'the server HELLO carries auth' });
    }
  }

  /** PACKED only after we declared packed_messages = 1 (FW-PACK-1); never with FOLLOWS, never inside a message, exactly tiled (FW-PACK-2). */
  #checkData(raw: RawFrame): void {
    const follows = (raw.flags & DataFlags.FOLLOWS) !== 0;
    if ((raw.flags & DataFlags.PACKED) === 0) {
      if (follows) this.#unfinished.add(raw.stream);
      else this.#unfinished.delete(raw.stream);
      return;
    }
    const what = `PACKED DATA on stream ${raw.stream} (seq ${raw.seq})`;
    if (!this.declaredPacked) {
      this.violations.push({ requirement: 'FW-PACK-1', message: `the target sent ${what}, but the runner did not declare packed_messages = 1` });
    }
    if (follows) this.violations.push({ requirement: 'FW-PACK-2', message: `the target sent ${what} with FOLLOWS set as well` });
    if (this.#unfinished.has(raw.stream)) {
      this.violations.push({ requirement: 'FW-PACK-2', message: `the target sent ${what} inside an unfinished message (its previous DATA had FOLLOWS set)` });
    }
    const unpacked = unpackRecords(raw.payload);
    if (!unpacked.ok) this.violations.push({ requirement: 'FW-PACK-2', message: `the target sent ${what} that is not exactly tiled by records: ${unpacked.problem}` });
  }

  #end(how: Ending['how'], error?: string): void {
    if (this.ending !== undefined) return;
    this.ending = { how, atBoundary: [...this.#decoders.values()].every((d) => d.atBoundary), at: Date.now(), ...(error === undefined ? {} : { error }) };
    this.#events.push({ kind: 'end', ending: this.ending });
    this.#notify();
  }
}

/** "NAME (0xNN)" for a wire code, or the number for unregistered codes. */
export function describeCode(code: number): string {
  const name = errorCodeName(code);
  return name === undefined ? `unregistered code 0x${code.toString(16)}` : `${name} (0x${code.toString(16).padStart(2, '0')})`;
}

/** Is this a received frame (as opposed to an ending)? */
export function isReceived(x: Received | Ending | undefined): x is Received {
  return x !== undefined && 'raw' in x;
}

export function isEnding(x: Received | Ending | undefined): x is Ending {
  return x !== undefined && 'how' in x;
}

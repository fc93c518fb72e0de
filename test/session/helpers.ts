/**
 * Socket-free harnesses for the L2 session: a transport that records what the session writes, a
 * scripted peer that feeds hand-built frames (including ones a correct peer never sends), and a
 * pair of real sessions joined by an in-memory frame transport. Time is a ManualClock throughout.
 */

import { expect } from 'vitest';
import { errorCodeName, ErrorCodes, FramewireError, type ErrorCodeName } from '../../src/errors.ts';
import { ManualClock, Session, type FrameTransport, type SessionOptions, type Stream, type StreamHandler } from '../../src/session/index.ts';
import {
  encodeCancelPayload,
  encodeCreditPayload,
  encodeDonePayload,
  encodeErrorPayload,
  encodeGoawayPayload,
  encodeHelloPayload,
  encodeOpenPayload,
  FrameType,
  HANDSHAKE_MAX_PAYLOAD,
  parseFrame,
  PingFlags,
  type ControlMap,
  type ErrorFrame,
  type Frame,
  type HelloPayload,
  type OpenPayload,
  type RawFrame,
  type Settings,
} from '../../src/wire/index.ts';

/** One turn of the event loop: lets queueMicrotask pumps and setImmediate yields run. */
export const flush = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

/** Several event-loop turns: enough for frames to cross a pair a few times. */
export async function settle(turns = 12): Promise<void> {
  for (let i = 0; i < turns; i++) await flush();
}

// ---- recording transport ------------------------------------------------------------------------

/** Records every frame the session writes, decoded with parseFrame. */
export class RecordingTransport implements FrameTransport {
  /** All frames written, in order. */
  readonly frames: Frame[] = [];
  /** Frames written after close(): the FrameTransport contract says there are none. */
  readonly lateWrites: Frame[] = [];
  readonly maxPayloads: number[] = [];
  /** The encoded payload length of every frame written, in order. */
  readonly payloadSizes: number[] = [];
  /** Settable by tests to simulate a socket that does not drain (above the high-water mark). */
  bufferedBytes = 0;
  closed = false;
  flushes = 0;
  /** write() copies every payload. */
  readonly copyLimit = Infinity;
  #taken = 0;

  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    // Copy: the session may hand out views of buffers it reuses.
    const frame = parseFrame({ type, flags, stream, seq, payload: Uint8Array.from(payload) });
    this.payloadSizes.push(payload.length);
    if (this.closed) this.lateWrites.push(frame);
    else this.frames.push(frame);
  }

  flush(): void {
    this.flushes++;
  }

  setMaxPayload(maxPayload: number): void {
    this.maxPayloads.push(maxPayload);
  }

  close(): void {
    this.closed = true;
  }

  /** Frames written since the previous take(). */
  take(): Frame[] {
    const out = this.frames.slice(this.#taken);
    this.#taken = this.frames.length;
    return out;
  }
}

// ---- frame queries ------------------------------------------------------------------------------

export const ofType = <T extends Frame['type']>(frames: readonly Frame[], type: T, stream?: number): Extract<Frame, { type: T }>[] =>
  frames.filter((f): f is Extract<Frame, { type: T }> => f.type === type && (stream === undefined || f.stream === stream));

export const dataFrames = (frames: readonly Frame[], stream?: number): Extract<Frame, { type: typeof FrameType.DATA }>[] => ofType(frames, FrameType.DATA, stream);

export const dataBytes = (frames: readonly Frame[], stream?: number): number => dataFrames(frames, stream).reduce((n, f) => n + f.payload.length, 0);

export function codeOf(frame: ErrorFrame): ErrorCodeName | undefined {
  return errorCodeName(frame.payload.code);
}

/** The ERROR frames on `stream`, as code names. */
export const errorCodes = (frames: readonly Frame[], stream: number): (ErrorCodeName | undefined)[] => ofType(frames, FrameType.ERROR, stream).map(codeOf);

/** A short, readable trace for order assertions: "DATA 1", "PING+ACK 0", "CREDIT 3" … */
export function trace(frames: readonly Frame[]): string[] {
  const names = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k])) as Record<number, string>;
  return frames.map((f) => `${names[f.type] ?? '?'}${f.type === FrameType.PING && (f.flags & PingFlags.ACK) !== 0 ? '+ACK' : ''} ${f.stream}`);
}

/**
 * The session failed with a connection error: ERROR with `code` on stream 0 was the last frame it
 * wrote, it closed the transport, wrote nothing after, and `closed` reports the same code.
 */
export async function expectConnectionError(h: Harness, code: ErrorCodeName): Promise<void> {
  const last = h.transport.frames.at(-1);
  expect(last?.type, `last frame written: ${trace(h.transport.frames.slice(-3)).join(', ')}`).toBe(FrameType.ERROR);
  expect(last?.stream).toBe(0);
  expect(codeOf(last as ErrorFrame)).toBe(code);
  expect(h.transport.closed).toBe(true);
  expect(h.transport.lateWrites).toEqual([]);
  const end = await h.session.closed;
  expect(end.error?.code).toBe(code);
}

export function expectStillOpen(h: Harness): void {
  expect(h.transport.closed).toBe(false);
  expect(ofType(h.transport.frames, FrameType.ERROR, 0)).toEqual([]);
}

// ---- scripted peer ------------------------------------------------------------------------------

export type Bytes = Uint8Array | string | number;

export function bytes(b: Bytes): Uint8Array {
  if (typeof b === 'number') return new Uint8Array(b).fill(0x61);
  if (typeof b === 'string') return new TextEncoder().encode(b);
  return b;
}

/**
 * The other end, played by the test: builds frames by hand with the wire payload encoders and
 * feeds them to `session.receive`. It numbers its own frames per stream (seq 0, 1, 2 …) unless a
 * test passes an explicit seq, which is how gaps and repeats are made.
 */
export class Peer {
  readonly #session: Session;
  readonly #seq = new Map<number, number>();

  constructor(session: Session) {
    this.#session = session;
  }

  nextSeq(stream: number): number {
    const s = this.#seq.get(stream) ?? 0;
    this.#seq.set(stream, (s + 1) >>> 0);
    return s;
  }

  /** Any frame; `seq` defaults to the next one of that stream. */
  send(type: number, stream: number, payload: Uint8Array, flags = 0, seq?: number): void {
    const raw: RawFrame = { type, flags, stream, seq: seq ?? this.nextSeq(stream), payload };
    this.#session.receive(raw);
  }

  hello(p: Partial<HelloPayload> = {}): void {
    this.send(FrameType.HELLO, 0, encodeHelloPayload({ versions: [1], settings: {}, ...p }));
  }

  open(id: number, p: Partial<OpenPayload> = {}): void {
    this.send(FrameType.OPEN, id, encodeOpenPayload({ kind: 'test', ...p }));
  }

  data(id: number, b: Bytes, flags = 0): void {
    this.send(FrameType.DATA, id, bytes(b), flags);
  }

  done(id: number, trailer?: ControlMap): void {
    this.send(FrameType.DONE, id, encodeDonePayload(trailer === undefined ? {} : { trailer }));
  }

  credit(id: number, offset: number): void {
    this.send(FrameType.CREDIT, id, encodeCreditPayload(offset));
  }

  error(id: number, code: ErrorCodeName, message = 'test error', extra: { retryable?: boolean; retryAfterMs?: number; details?: ControlMap } = {}): void {
    this.send(FrameType.ERROR, id, encodeErrorPayload({ code: ErrorCodes[code].code, message, ...extra }));
  }

  cancel(id: number, reason?: string): void {
    this.send(FrameType.CANCEL, id, encodeCancelPayload(reason === undefined ? {} : { reason }));
  }

  ping(payload: Uint8Array = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), ack = false): void {
    this.send(FrameType.PING, 0, payload, ack ? PingFlags.ACK : 0);
  }

  /** Answers every PING without ACK among `frames`, as a correct peer would. */
  answerPings(frames: readonly Frame[]): void {
    for (const f of ofType(frames, FrameType.PING)) {
      if ((f.flags & PingFlags.ACK) === 0) this.ping(f.payload, true);
    }
  }

  goaway(lastStream: number, code: ErrorCodeName = 'NO_ERROR', deadlineMs?: number): void {
    this.send(FrameType.GOAWAY, 0, encodeGoawayPayload({ lastStream, code: ErrorCodes[code].code, ...(deadlineMs === undefined ? {} : { deadlineMs }) }));
  }
}

// ---- one session against a scripted peer --------------------------------------------------------

export interface Harness {
  readonly session: Session;
  readonly transport: RecordingTransport;
  readonly peer: Peer;
  readonly clock: ManualClock;
  /** Streams the peer opened that the session handed to its stream handler (server harnesses). */
  readonly accepted: Stream[];
}

export type HarnessOptions = Omit<SessionOptions, 'role' | 'clock'>;

function harness(role: 'client' | 'server', options: HarnessOptions, onStream?: StreamHandler, transport = new RecordingTransport()): Harness {
  const clock = new ManualClock();
  const accepted: Stream[] = [];
  const handler: StreamHandler =
    onStream ??
    ((stream) => {
      accepted.push(stream);
    });
  const session = new Session({ ...options, role, clock }, transport, handler);
  return { session, transport, peer: new Peer(session), clock, accepted };
}

/** A client session, started: its HELLO is already written. */
export function startClient(options: HarnessOptions = {}, onStream?: StreamHandler, transport?: RecordingTransport): Harness {
  const h = harness('client', options, onStream, transport);
  h.session.start();
  return h;
}

/** A server session, started: waiting for the client's HELLO. */
export function startServer(options: HarnessOptions = {}, onStream?: StreamHandler, transport?: RecordingTransport): Harness {
  const h = harness('server', options, onStream, transport);
  h.session.start();
  return h;
}

type ConnectedOptions = { answerPing?: boolean; rttMs?: number; onStream?: StreamHandler; transport?: RecordingTransport };

/**
 * A client that completed its handshake with the scripted server (which declared `peerSettings`).
 * The frames of the handshake (our HELLO and first PING) are taken, so `transport.take()` starts clean.
 * With `answerPing`, the peer answers our first PING after `rttMs`, so an RTT is known.
 */
export function connectedClient(options: HarnessOptions = {}, peerSettings: Partial<Settings> = {}, opts: ConnectedOptions = {}): Promise<Harness> {
  return connected(startClient(options, opts.onStream, opts.transport), peerSettings, opts);
}

/** A server that accepted the scripted client's HELLO (which declared `peerSettings`). */
export function connectedServer(options: HarnessOptions = {}, peerSettings: Partial<Settings> = {}, opts: ConnectedOptions = {}): Promise<Harness> {
  return connected(startServer(options, opts.onStream, opts.transport), peerSettings, opts);
}

async function connected(h: Harness, peerSettings: Partial<Settings>, opts: ConnectedOptions): Promise<Harness> {
  h.peer.hello({ settings: peerSettings });
  await h.session.ready;
  await flush();
  const hs = h.transport.take();
  if (opts.answerPing === true) {
    h.clock.advance(opts.rttMs ?? 10);
    h.peer.answerPings(hs);
    await flush();
  }
  return h;
}

export { HANDSHAKE_MAX_PAYLOAD };

// ---- two real sessions --------------------------------------------------------------------------

/**
 * Hands frames to the other session, asynchronously (one setImmediate per flush, as a socket
 * would) so neither session is re-entered from inside its own pump. Enforces the receiver's
 * payload limit like a real decoder: an oversize frame is a transport error on the receiving side.
 */
export class PairTransport implements FrameTransport {
  other!: Session;
  otherTransport!: PairTransport;
  /** The payload limit our session set for what it receives. */
  maxPayload = HANDSHAKE_MAX_PAYLOAD;
  bufferedBytes = 0;
  closed = false;
  /** write() copies every payload. */
  readonly copyLimit = Infinity;
  /** Every frame this side sent, decoded. */
  readonly sent: Frame[] = [];
  #queue: RawFrame[] = [];

  write(type: number, flags: number, stream: number, seq: number, payload: Uint8Array): void {
    if (this.closed) throw new Error('write after close');
    const copy = Uint8Array.from(payload);
    this.#queue.push({ type, flags, stream, seq, payload: copy });
    this.sent.push(parseFrame({ type, flags, stream, seq, payload: copy }));
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const frames = this.#queue;
    this.#queue = [];
    setImmediate(() => {
      for (const f of frames) {
        if (this.otherTransport.closed) return;
        if (f.payload.length > this.otherTransport.maxPayload) {
          this.other.transportError(new FramewireError('FRAME_SIZE', `frame of ${f.payload.length} bytes over the limit ${this.otherTransport.maxPayload}`));
          return;
        }
        this.other.receive(f);
      }
    });
  }

  setMaxPayload(maxPayload: number): void {
    this.maxPayload = maxPayload;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    setImmediate(() => {
      this.other.transportClosed();
    });
  }
}

export interface Pair {
  readonly client: Session;
  readonly server: Session;
  readonly clock: ManualClock;
  readonly clientTransport: PairTransport;
  readonly serverTransport: PairTransport;
  /** Streams the server accepted (when no handler was given). */
  readonly accepted: Stream[];
}

export async function pair(
  opts: { client?: HarnessOptions; server?: HarnessOptions; onServerStream?: StreamHandler; onClientStream?: StreamHandler } = {},
): Promise<Pair> {
  const clock = new ManualClock();
  const ct = new PairTransport();
  const st = new PairTransport();
  const accepted: Stream[] = [];
  const client = new Session({ ...opts.client, role: 'client', clock }, ct, opts.onClientStream);
  const server = new Session(
    { ...opts.server, role: 'server', clock },
    st,
    opts.onServerStream ??
      ((s) => {
        accepted.push(s);
      }),
  );
  ct.other = server;
  ct.otherTransport = st;
  st.other = client;
  st.otherTransport = ct;
  server.start();
  client.start();
  await Promise.all([client.ready, server.ready]);
  await settle();
  return { client, server, clock, clientTransport: ct, serverTransport: st, accepted };
}

/** Reads every message of a stream. */
export async function readAll(stream: Stream): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** What `toThrow` expects of an option or argument the API cannot work with: a coded INVALID_ARGUMENT, not a bare RangeError. */
export const invalidArgument = expect.objectContaining({ name: 'FramewireError', code: 'INVALID_ARGUMENT' }) as Error;

/**
 * The raw peer over QUIC (spec §14). The control stream is the first QUIC stream we open, at
 * connect time, so it gets QUIC id 0 (FW-QUIC-2). Bytes given to `send` are routed frame by frame
 * as a §14 peer would write them: a frame of stream 0 goes on the control stream, a frame of a
 * stream that has a QUIC stream goes on it, and a frame of any other stream opens a new QUIC stream
 * (in the order the frames come, so a case that opens its streams in id order opens its QUIC
 * streams in id order too, FW-QUIC-3). The router reads a frame's header only as far as its
 * length and stream id (bytes 0..11), so corrupt frames, frames cut at any byte and frames split
 * across writes still travel as the case wrote them, on the QUIC stream their stream id names.
 * Cases that must break the mapping itself use `quic` (QuicControls): raw bytes on a chosen QUIC
 * stream, FIN, RESET_STREAM and STOP_SENDING.
 *
 * The target's QUIC streams are read each with a framing of its own. The connection counts as
 * ended by the target ('eof') once it finished its control stream and every other QUIC stream of
 * it ended too (FW-QUIC-8), or when the QUIC connection closes; we then finish our control stream,
 * as a TCP socket without half-open answers a FIN.
 */

import { dialRawQuic, type RawQuicConnection, type RawQuicStream } from '../transport/quic/index.ts';
import type { LinkSink, PeerLink } from './link.ts';

/** Bytes of a header up to and including the stream id: what the router needs to place a frame. */
const ROUTING_BYTES = 12;
const HEADER_SIZE = 20;
const READ_SIZE = 64 * 1024;

/** How the target ended its half of one QUIC stream. */
export type TargetStreamEnd = 'fin' | 'reset';

/** Controls of the QUIC mapping itself, for the FW-QUIC-* cases. Every call is fire-and-forget; failures are recorded in `errors`. */
export interface QuicControls {
  /** Writes `bytes` as they are on the QUIC stream of framewire stream `stream` (0: the control stream), opening a new QUIC stream if it has none. */
  sendOn(stream: number, bytes: Uint8Array): void;
  /** Writes `bytes` as they are on a new QUIC stream bound to no framewire stream. */
  sendOnNewStream(bytes: Uint8Array): void;
  /** FIN on the QUIC stream of `stream`. */
  finish(stream: number): void;
  /** RESET_STREAM on the QUIC stream of `stream`. */
  reset(stream: number): void;
  /**
   * STOP_SENDING on the QUIC stream of `stream`; resolves once the library took it. The binding
   * sends it only between two reads of the stream (it waits for the read we always have pending),
   * so it leaves after the target's next bytes on that stream, never before.
   */
  stopSending(stream: number): Promise<void>;
  /** How the target ended its half of the QUIC stream of `stream` so far (undefined: not yet, or no such stream). */
  targetEnd(stream: number): TargetStreamEnd | undefined;
  /** The QUIC stream id that carries framewire stream `stream`, once known. */
  quicIdOf(stream: number): number | undefined;
  /** The target's identity as its TLS handshake proved it. */
  readonly peerId: string;
  /** Failures of our own QUIC operations (a write on a stream the target stopped, …). */
  readonly errors: string[];
}

interface Route {
  readonly stream: Promise<RawQuicStream | undefined>;
  quicId: number | undefined;
  end: TargetStreamEnd | undefined;
  /** The target's half of it is over (FIN, reset, or a failed read). */
  readDone: boolean;
}

export class QuicLink implements PeerLink, QuicControls {
  readonly errors: string[] = [];
  readonly #conn: RawQuicConnection;
  readonly #control: Route;
  /** Framewire stream id → its QUIC stream, ours or the target's. */
  readonly #routes = new Map<number, Route>();
  /** Every QUIC stream we opened, in order (endOutput finishes them, the control stream last). */
  readonly #opened: Route[] = [];
  /** Every QUIC stream of the target and ours that we read. */
  readonly #reading: Route[] = [];
  #sink: LinkSink | undefined;
  /** The start of a header whose stream id has not arrived yet. */
  #head: Buffer = Buffer.alloc(0);
  /** The route of the frame being sent, and how many of its bytes are still to come. */
  #current: Route | undefined;
  #left = 0;
  #controlFin = false;
  #ended = false;

  private constructor(conn: RawQuicConnection) {
    this.#conn = conn;
    this.#control = this.#open();
    this.#routes.set(0, this.#control);
  }

  static async connect(options: { host: string; port: number; peerId?: string; connectTimeoutMs: number }): Promise<QuicLink> {
    let timer: NodeJS.Timeout | undefined;
    const dial = dialRawQuic(options);
    const conn = await Promise.race([
      dial,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          dial.then(
            (late) => {
              late.close();
            },
            () => undefined,
          );
          reject(new Error(`could not connect to quic://${options.host}:${options.port} within ${options.connectTimeoutMs} ms`));
        }, options.connectTimeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    return new QuicLink(conn);
  }

  get quic(): QuicControls {
    return this;
  }

  get peerId(): string {
    return this.#conn.peerId;
  }

  start(sink: LinkSink): void {
    this.#sink = sink;
    for (const route of this.#reading) void this.#readLoop(route);
    void this.#acceptLoop();
    this.#conn.closed().then(
      () => {
        this.#end(this.#controlFin ? 'eof' : 'reset');
      },
      (error: unknown) => {
        this.#end('reset', error instanceof Error ? error.message : String(error));
      },
    );
  }

  // ---- sending ---------------------------------------------------------------------------

  send(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.#current !== undefined && this.#left > 0) {
        const n = Math.min(this.#left, bytes.length - at);
        this.#write(this.#current, bytes.subarray(at, at + n));
        this.#left -= n;
        at += n;
        continue;
      }
      const take = bytes.subarray(at, at + ROUTING_BYTES - this.#head.length);
      this.#head = Buffer.concat([this.#head, take]);
      at += take.length;
      if (this.#head.length < ROUTING_BYTES) return;
      this.#current = this.#routeFor(this.#head.readUInt32BE(8));
      this.#left = HEADER_SIZE + this.#head.readUInt32BE(0) - ROUTING_BYTES;
      this.#write(this.#current, this.#head);
      this.#head = Buffer.alloc(0);
    }
  }

  sendOn(stream: number, bytes: Uint8Array): void {
    this.#write(this.#routeFor(stream), bytes);
  }

  sendOnNewStream(bytes: Uint8Array): void {
    const route = this.#open();
    if (this.#sink !== undefined) void this.#readLoop(route);
    this.#write(route, bytes);
  }

  finish(stream: number): void {
    this.#call(this.#routes.get(stream), 'finish', (s) => s.finish());
  }

  reset(stream: number): void {
    this.#call(this.#routes.get(stream), 'reset', (s) => s.reset());
  }

  stopSending(stream: number): Promise<void> {
    return this.#run(this.#routes.get(stream), 'stop sending', (s) => s.stopReading());
  }

  targetEnd(stream: number): TargetStreamEnd | undefined {
    return this.#routes.get(stream)?.end;
  }

  quicIdOf(stream: number): number | undefined {
    return this.#routes.get(stream)?.quicId;
  }

  endOutput(): void {
    const streams = this.#opened.filter((r) => r !== this.#control);
    for (const route of [...streams, this.#control]) this.#call(route, 'finish', (s) => s.finish());
  }

  destroy(): void {
    this.#conn.close();
    this.#end('local');
  }

  #routeFor(stream: number): Route {
    let route = this.#routes.get(stream);
    if (route === undefined) {
      route = this.#open();
      this.#routes.set(stream, route);
      if (this.#sink !== undefined) void this.#readLoop(route);
    }
    return route;
  }

  #open(): Route {
    const route: Route = {
      stream: this.#conn.openStream().then(
        (s) => {
          route.quicId = s.quicId;
          return s;
        },
        (error: unknown) => {
          this.#failed('open', error);
          return undefined;
        },
      ),
      quicId: undefined,
      end: undefined,
      readDone: false,
    };
    this.#opened.push(route);
    this.#reading.push(route);
    return route;
  }

  #write(route: Route, bytes: Uint8Array): void {
    const copy = Uint8Array.from(bytes);
    this.#call(route, 'write', (s) => s.write(copy));
  }

  #call(route: Route | undefined, what: string, call: (s: RawQuicStream) => Promise<void>): void {
    void this.#run(route, what, call);
  }

  /** Runs a library call on the route's QUIC stream; never rejects (failures go to `errors`). */
  #run(route: Route | undefined, what: string, call: (s: RawQuicStream) => Promise<void>): Promise<void> {
    if (route === undefined) {
      this.errors.push(`${what}: no QUIC stream for that framewire stream`);
      return Promise.resolve();
    }
    return route.stream.then(async (s) => {
      if (s === undefined || this.#ended) return;
      try {
        await call(s);
      } catch (error) {
        this.#failed(what, error);
      }
    });
  }

  #failed(what: string, error: unknown): void {
    this.errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }

  // ---- receiving -------------------------------------------------------------------------

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let stream: RawQuicStream;
      try {
        stream = await this.#conn.acceptStream();
      } catch {
        return; // The connection is over; closed() reports how.
      }
      const route: Route = { stream: Promise.resolve(stream), quicId: stream.quicId, end: undefined, readDone: false };
      this.#reading.push(route);
      void this.#readLoop(route, (id) => {
        if (!this.#routes.has(id)) this.#routes.set(id, route);
      });
    }
  }

  /** Reads one QUIC stream to its end; `bind` learns the framewire stream id of a target's stream from its first header. */
  async #readLoop(route: Route, bind?: (id: number) => void): Promise<void> {
    const stream = await route.stream;
    const sink = this.#sink;
    if (stream === undefined || sink === undefined) return;
    let head: Buffer | undefined = bind === undefined ? undefined : Buffer.alloc(0);
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await stream.read(READ_SIZE);
      } catch (error) {
        if (/reset by peer/iu.test(error instanceof Error ? error.message : String(error))) route.end = 'reset';
        break;
      }
      if (chunk === null) {
        route.end = 'fin';
        break;
      }
      if (head !== undefined && bind !== undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= ROUTING_BYTES) {
          bind(head.readUInt32BE(8));
          head = undefined;
        }
      }
      sink.received(route, chunk);
    }
    route.readDone = true;
    sink.changed();
    if (route === this.#control && route.end === 'fin') {
      this.#controlFin = true;
      // As a TCP socket without half-open answers a FIN: our side ends too (the target waits for it, FW-QUIC-8).
      this.#call(this.#control, 'finish', (s) => s.finish());
    }
    this.#maybeEnded();
  }

  /** The target finished its control stream and every other QUIC stream of it ended (FW-QUIC-8). */
  #maybeEnded(): void {
    if (!this.#controlFin) return;
    if (this.#reading.every((r) => r.readDone || r.quicId === undefined)) this.#end('eof');
  }

  #end(how: 'eof' | 'reset' | 'local', error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#sink?.ended(how, error);
  }
}

/**
 * An in-memory stand-in for the QUIC binding's Connection and Stream (src/transport/quic/binding.ts),
 * with the one power real loopback lacks: holding back one QUIC stream's bytes while the others flow,
 * as a lost packet does. Streams are accepted in id order, as quinn accepts them.
 */

import type { QuicConnection, QuicStream } from '../../src/transport/quic/binding.ts';

class Pipe {
  readonly chunks: Uint8Array[] = [];
  ended = false;
  held = false;
  reset: Error | undefined;
  #waiter: (() => void) | undefined;

  push(chunk: Uint8Array | null): void {
    if (chunk === null) this.ended = true;
    else this.chunks.push(Uint8Array.from(chunk));
    this.wake();
  }

  wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.reset !== undefined) throw this.reset;
      if (!this.held) {
        const chunk = this.chunks.shift();
        if (chunk !== undefined) return chunk;
        if (this.ended) return null;
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }
}

export class FakeStream implements QuicStream {
  readonly index: number;
  /** What this side reads. */
  readonly incoming = new Pipe();
  peer!: FakeStream;
  /** Replaces write() to inject library failures. */
  writeHook: ((data: Uint8Array) => Promise<void>) | undefined;

  constructor(index: number) {
    this.index = index;
  }

  id(): string {
    return String(this.index);
  }

  read(): Promise<Uint8Array | null> {
    return this.incoming.read();
  }

  write(data: Uint8Array): Promise<void> {
    if (this.writeHook !== undefined) return this.writeHook(data);
    this.peer.incoming.push(data);
    return new Promise((resolve) => setImmediate(resolve));
  }

  finishWrite(): Promise<void> {
    this.peer.incoming.push(null);
    return Promise.resolve();
  }

  resetWrite(): Promise<void> {
    this.peer.incoming.reset = new Error('stream reset by peer: error 0');
    this.peer.incoming.wake();
    return Promise.resolve();
  }

  stopRead(): Promise<void> {
    return Promise.resolve();
  }
}

export class FakeConnection implements QuicConnection {
  peer!: FakeConnection;
  /** Every stream of this side, in the order they were opened or accepted; `index` is the QUIC stream id. */
  readonly streams: FakeStream[] = [];
  readonly #accepted: FakeStream[] = [];
  #acceptWaiter: ((s: FakeStream) => void) | undefined;
  #closed = false;
  #resolveClosed!: () => void;
  readonly #closedPromise = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
  #next = 0;
  readonly name: string;
  /** QUIC streams (by QUIC stream id) whose bytes this side holds back from the moment they exist. */
  readonly holdOnArrival = new Set<number>();

  constructor(name: string) {
    this.name = name;
  }

  inboundStream(): Promise<QuicStream> {
    const s = this.#accepted.shift();
    if (s !== undefined) return Promise.resolve(s);
    if (this.#closed) return Promise.reject(new Error('connection lost'));
    return new Promise((resolve) => (this.#acceptWaiter = resolve));
  }

  outboundStream(): Promise<QuicStream> {
    if (this.#closed) return Promise.reject(new Error('connection lost'));
    // QUIC's numbering of bidirectional streams: client-initiated 0, 4, 8 …, server-initiated 1, 5, 9 ….
    const index = 4 * this.#next++ + (this.name === 'server' ? 1 : 0);
    const mine = new FakeStream(index);
    if (this.holdOnArrival.has(index)) mine.incoming.held = true;
    const theirs = new FakeStream(index);
    mine.peer = theirs;
    theirs.peer = mine;
    this.streams.push(mine);
    this.peer.streams.push(theirs);
    this.peer.#offer(theirs);
    return Promise.resolve(mine);
  }

  #offer(s: FakeStream): void {
    if (this.holdOnArrival.has(s.index)) s.incoming.held = true;
    const w = this.#acceptWaiter;
    this.#acceptWaiter = undefined;
    if (w === undefined) this.#accepted.push(s);
    else w(s);
  }

  abort(): void {
    this.#shut();
    this.peer.#shut();
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.streams) {
      s.incoming.reset = new Error('connection lost');
      s.incoming.wake();
    }
    this.#resolveClosed();
  }

  rtt(): number {
    return 0;
  }

  id(): string {
    return this.name;
  }

  remoteMultiaddr(): string {
    return `/ip4/127.0.0.1/udp/1/quic-v1/p2p/fake-${this.peer.name}`;
  }

  closed(): Promise<void> {
    return this.#closedPromise;
  }

  stats(): { pathLostPackets: number; pathRtt: number; pathCwnd: number; udpTxBytes: number; udpRxBytes: number } {
    return { pathLostPackets: 0, pathRtt: 0, pathCwnd: 0, udpTxBytes: 0, udpRxBytes: 0 };
  }
}

export function fakeConnectionPair(): [client: FakeConnection, server: FakeConnection] {
  const a = new FakeConnection('client');
  const b = new FakeConnection('server');
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Holds back (or releases) what `side` receives on the QUIC stream with this id (0 = control). */
export function hold(side: FakeConnection, index: number, held: boolean): void {
  const s = side.streams.find((x) => x.index === index);
  if (s === undefined) throw new Error(`no stream ${index} on ${side.name}`);
  s.incoming.held = held;
  if (!held) s.incoming.wake();
}

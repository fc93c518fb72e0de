/**
 * Hostile peers for the chaos test, run as a process of their own so that their work does not
 * slow the honest client that measures. `actors` loops each open a connection from a random
 * source address (127.0.0.2 …), misbehave in one of the ways below (chosen with a seeded PRNG),
 * then go away, until `durationMs` has passed; then one JSON line of counts is printed.
 *
 *   tsx test/chaos/hostile.ts <port> <seed> <durationMs> <actors> [token]
 *
 * With a token, HELLOs carry it as auth, so the hostile peers are their own principal (and
 * exhaust that principal's budgets, not the honest client's); some HELLOs carry a wrong one.
 *
 * Frames are built with wire/ only (never the session), so they can be anything a broken or
 * malicious peer might send.
 */

import * as net from 'node:net';
import { errorCodeName } from '../../src/errors.ts';
import { encodeFrame, encodeHeader, FrameDecoder, FrameType, parseFrame, type Frame } from '../../src/wire/index.ts';
import { prng } from '../integration/helpers.ts';

const [port, seed, durationMs, actors] = process.argv.slice(2, 6).map(Number) as [number, number, number, number];
const token = process.argv[6];
const rnd = prng(seed);
const until = Date.now() + durationMs;
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

const counts = { connections: 0, frames: 0, bytes: 0, closedByServer: 0, errorsReceived: {} as Record<string, number>, behaviours: {} as Record<string, number> };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One hostile connection: raw bytes out, frames in (decoded as far as they decode). */
class Peer {
  readonly socket: net.Socket;
  closed = false;
  /** The server's HELLO arrived (the handshake is done, so what follows is judged by the session rules). */
  helloReceived = false;
  readonly #seq = new Map<number, number>();

  constructor() {
    this.socket = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + int(60)}` });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
    });
    const decoder = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 }, (raw) => {
      if (raw.type === FrameType.HELLO) this.helloReceived = true;
      if (raw.type !== FrameType.ERROR || raw.stream !== 0) return;
      // How the server ended the connection, by code.
      const f = parseFrame(raw);
      const code = f.type === FrameType.ERROR ? (errorCodeName(f.payload.code) ?? String(f.payload.code)) : '?';
      counts.errorsReceived[code] = (counts.errorsReceived[code] ?? 0) + 1;
    });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        // A truncated or garbled answer to garbage: ignore.
      }
    });
  }

  connected(): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve(false);
        return;
      }
      this.socket.once('connect', () => {
        resolve(true);
      });
      this.socket.once('close', () => {
        resolve(false);
      });
    });
  }

  raw(bytes: Uint8Array): void {
    if (this.closed) return;
    counts.bytes += bytes.length;
    this.socket.write(bytes);
  }

  frame(type: number, stream: number, payload: Uint8Array | Record<string, unknown> = new Uint8Array(0), flags = 0, seq?: number): Buffer {
    const s = seq ?? this.#seq.get(stream) ?? 0;
    this.#seq.set(stream, s + 1);
    counts.frames++;
    // Control payloads as maps (encoded as the type requires); bytes as they are, whatever the type (the CRC is right either way).
    const bytes = payload instanceof Uint8Array ? Buffer.concat([encodeHeader(type, flags, stream, s, payload), payload]) : encodeFrame({ type, flags, stream, seq: s, payload } as unknown as Frame);
    this.raw(bytes);
    return bytes;
  }

  /** Sends HELLO and, mostly, waits for the server's (a few peers do not wait: FW-HS-7 violations). */
  async hello(settings: Record<string, number> = {}): Promise<void> {
    const auth = token === undefined ? {} : { auth: { token: rnd() < 0.05 ? 'not-a-token' : token } };
    this.frame(FrameType.HELLO, 0, { versions: [1], settings, ...auth });
    if (rnd() < 0.1) return;
    const end = Date.now() + 3000;
    while (!this.helloReceived && !this.closed && Date.now() < end) await sleep(5);
  }

  /** Holds the connection until `ms` passed (or the run ends) or the server closed it. */
  async hold(ms: number): Promise<void> {
    const end = Math.min(Date.now() + ms, until);
    while (!this.closed && Date.now() < end) await sleep(50);
    if (this.closed) counts.closedByServer++;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** A MessagePack map nested `depth` deep: {a: {a: … {}}}, written by hand (encoders refuse such depth). */
function deepMap(depth: number): Buffer {
  const parts: number[] = [];
  for (let i = 0; i < depth; i++) parts.push(0x81, 0xa1, 0x61);
  parts.push(0x80);
  return Buffer.from(parts);
}

type Behaviour = (p: Peer) => Promise<void>;

const behaviours: Record<string, Behaviour> = {
  async garbage(p) {
    p.raw(randomBytes(1 + int(4096)));
    await p.hold(int(2000));
  },
  async truncated(p) {
    await p.hello();
    const full = encodeFrame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'conformance.echo' } });
    p.raw(full.subarray(0, 1 + int(full.length - 1)));
    if (rnd() < 0.5) await p.hold(3000);
  },
  async silent(p) {
    await p.hold(2000 + int(6000));
  },
  async mutated(p) {
    const frames = [
      encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {}, ...(token === undefined ? {} : { auth: { token } }) } }),
      encodeFrame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'conformance.echo' } }),
      encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 1, payload: randomBytes(int(2000)) }),
      encodeFrame({ type: FrameType.DONE, flags: 0, stream: 1, seq: 2, payload: {} }),
    ];
    const bytes = Buffer.concat(frames);
    for (let i = 0, n = 1 + int(4); i < n; i++) {
      const at = int(bytes.length);
      bytes[at] = bytes[at]! ^ (1 << int(8));
    }
    counts.frames += frames.length;
    p.raw(bytes);
    await p.hold(int(1500));
  },
  async randomFrames(p) {
    await p.hello();
    for (let i = 0, n = 1 + int(30); i < n && !p.closed; i++) p.frame(1 + int(12), int(8), randomBytes(int(64)), int(256));
    await p.hold(int(1000));
  },
  async stopsReading(p) {
    await p.hello();
    p.frame(FrameType.OPEN, 1, { kind: 'conformance.echo' });
    p.socket.pause();
    // Within the default initial credit (256 KiB): the echo answers, and we never read it.
    for (let i = 0; i < 60 && !p.closed; i++) p.frame(FrameType.DATA, 1, randomBytes(4096));
    await p.hold(3000 + int(4000));
  },
  async neverGrantsCredit(p) {
    await p.hello({ initial_stream_credit: 0, initial_connection_credit: 0 });
    p.frame(FrameType.OPEN, 1, { kind: 'events.subscribe', target: 'tokens', meta: { params: { count: 100_000, interval_ms: 0 } } });
    p.frame(FrameType.OPEN, 3, { kind: 'conformance.echo' });
    p.frame(FrameType.DATA, 3, randomBytes(8192));
    await p.hold(3000 + int(4000));
  },
  async neverSendsDone(p) {
    await p.hello();
    p.frame(FrameType.OPEN, 1, { kind: 'events.subscribe', target: 'tokens', meta: { params: { count: 3, interval_ms: 0 } } });
    p.frame(FrameType.OPEN, 3, { kind: 'conformance.echo' });
    p.frame(FrameType.DATA, 3, randomBytes(100));
    // The tokens stream ends with the server's DONE; ours never comes (the silent subscriber),
    // for longer than the server's stream heartbeat interval (15 s) in most runs.
    await p.hold(16_000 + int(8000));
  },
  async openCancelBurst(p) {
    await p.hello();
    for (let id = 1; id < 2 * (50 + int(600)) && !p.closed; id += 2) {
      p.frame(FrameType.OPEN, id, { kind: pick(['conformance.echo', 'conformance.sink', 'events.subscribe', 'nope']), target: 'tokens' });
      p.frame(FrameType.CANCEL, id, {});
    }
    await p.hold(500);
  },
  async disconnectMidFrame(p) {
    await p.hello();
    p.frame(FrameType.OPEN, 1, { kind: 'conformance.sink' });
    const data = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 1, payload: randomBytes(30_000) });
    p.raw(data.subarray(0, int(data.length)));
    await sleep(int(300));
    p.destroy();
  },
  async deepTrailer(p) {
    await p.hello();
    p.frame(FrameType.OPEN, 1, { kind: 'conformance.echo' });
    p.frame(FrameType.DONE, 1, deepMap(90 + int(40)));
    await p.hold(1000);
  },
  async smallFramesPeer(p) {
    // Declares the smallest frames, then asks for answers that would not fit (item 14).
    await p.hello({ max_frame_payload: 1024 });
    p.frame(FrameType.OPEN, 1, { kind: 'conformance.echo' });
    p.frame(FrameType.DONE, 1, { pad: 'x'.repeat(1000) });
    p.frame(FrameType.OPEN, 3, { kind: 'conformance.echo' });
    p.frame(FrameType.DATA, 3, randomBytes(20_000));
    await p.hold(1500);
  },
  async pingFlood(p) {
    await p.hello();
    for (let i = 0; i < 400 && !p.closed; i++) p.frame(FrameType.PING, 0, randomBytes(8));
    await p.hold(500);
  },
  async trickle(p) {
    await p.hello();
    p.raw(encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 0, payload: randomBytes(60_000) }).subarray(0, 20));
    while (!p.closed) {
      p.raw(randomBytes(1));
      await sleep(200);
      if (Date.now() > until) break;
    }
    if (p.closed) counts.closedByServer++;
  },
  async uploadSpam(p) {
    await p.hello();
    for (let id = 1; id < 2 * (1 + int(20)); id += 2) {
      p.frame(FrameType.OPEN, id, { kind: 'upload.create', meta: { size: 2 ** 40, chunk_size: 4 * 1024 * 1024 } });
      p.frame(FrameType.DONE, id, {});
    }
    await p.hold(1000);
  },
  async subscribeAndDrop(p) {
    await p.hello();
    for (let id = 1; id < 2 * (1 + int(10)); id += 2) p.frame(FrameType.OPEN, id, { kind: 'events.subscribe', target: 'clock', meta: { params: { interval_ms: 10 } } });
    await sleep(int(500));
    p.destroy();
  },
};

const names = Object.keys(behaviours);

async function actor(): Promise<void> {
  while (Date.now() < until) {
    const name = pick(names);
    counts.behaviours[name] = (counts.behaviours[name] ?? 0) + 1;
    counts.connections++;
    const p = new Peer();
    if (await p.connected()) {
      try {
        await behaviours[name]!(p);
      } catch {
        // A hostile peer's own troubles do not matter.
      }
    }
    p.destroy();
    await sleep(int(50));
  }
}

await Promise.all(Array.from({ length: actors }, () => actor()));
process.stdout.write(`${JSON.stringify({ event: 'done', ...counts })}\n`);
process.exit(0);

/**
 * Targets for the conformance runner's own tests: our server as it should be, and deliberately
 * broken ones that prove the cases can fail.
 */

import * as net from 'node:net';
import { Connection } from '../../src/connection.ts';
import { conformanceService } from '../../src/conformance/echo-service.ts';
import { runConformance, type ConformanceOptions, type Report } from '../../src/conformance/index.ts';
import { createServer, type FramewireServer } from '../../src/server.ts';
import type { SessionLimits } from '../../src/session/index.ts';
import { DataFlags, encodeFrame, FrameDecoder, FrameType, MAX_PAYLOAD_CEILING, parseFrame, PingFlags, type Frame, type Settings } from '../../src/wire/index.ts';

export interface Target {
  readonly port: number;
  close(): Promise<void>;
}

const ranAgainst: Target[] = [];

/** Runs the conformance cases against `target` with a 5 s long-wait budget; closeTargets() closes it after the test. */
export async function runAgainst(target: Target, options: Partial<Pick<ConformanceOptions, 'cases' | 'strict' | 'timeoutMs' | 'quietMs'>> = {}): Promise<Report> {
  ranAgainst.push(target);
  return runConformance({ target: { host: '127.0.0.1', port: target.port }, longWaitMs: 5000, ...options });
}

/** Closes every target runAgainst() ran against (a test file's afterEach). */
export async function closeTargets(): Promise<void> {
  await Promise.all(ranAgainst.splice(0).map((t) => t.close()));
}

export function verdictOf(report: Report, id: string): string | undefined {
  return report.results.find((r) => r.id === id)?.verdict;
}

/** Small limits so that flow-control, concurrency and timer cases are quick. */
export const quickSettings = {
  maxConcurrentStreams: 4,
  initialStreamCredit: 8192,
  initialConnectionCredit: 16384,
  maxMessageSize: 20000,
  idleTimeoutMs: 1500,
  heartbeatIntervalMs: 700,
} as const;

export const quickLimits = { handshakeTimeoutMs: 800, resetBurst: 100, resetRatePerSecond: 50, pingBurst: 100, emptyFrameBurst: 1000 } as const;

/** Our server with the conformance services; `settings` and `limits` override the quick ones. */
export async function ourServer(options: { settings?: Partial<Settings>; limits?: Partial<SessionLimits> } = {}): Promise<Target> {
  const server: FramewireServer = createServer({ services: [conformanceService()], settings: { ...quickSettings, ...options.settings }, limits: { ...quickLimits, ...options.limits } });
  const address = await server.listen(0);
  return { port: address.port, close: () => server.close({ deadlineMs: 100 }) };
}

async function listen(onSocket: (socket: net.Socket) => void): Promise<Target> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Our session, but its transport skips CRC verification: the bad-CRC cases must fail. */
export function skipCrcServer(): Promise<Target> {
  const service = conformanceService();
  return listen((socket) => {
    new Connection(socket, { role: 'server', settings: quickSettings, limits: quickLimits }, (stream, session) => service.handle(stream, session), { skipCrc: true });
  });
}

/**
 * A hand-written "echo server" that gets the happy path right and the rest wrong: it answers
 * HELLO and PING, echoes every DATA frame at once (ignoring the client's credit and frame size),
 * sends the delayed DONE even after CANCEL, and otherwise ignores every rule.
 * With `silent`, it answers HELLO and then ignores everything.
 * With `packing`, it declares packed_messages = 1 and gets packing wrong (§8.2.6): it echoes a
 * PACKED frame as it came, never checking its records (so bad frames are "delivered"), and sends
 * every other whole message back as a PACKED frame of one record, whether or not the client
 * declared packed_messages = 1.
 */
export function naiveServer(options: { silent?: boolean; packing?: boolean } = {}): Promise<Target> {
  return listen((socket) => {
    const seq = new Map<number, number>();
    const send = (f: Omit<Frame, 'seq'>): void => {
      const s = seq.get(f.stream) ?? 0;
      seq.set(f.stream, s + 1);
      if (!socket.destroyed) socket.write(encodeFrame({ ...f, seq: s } as Frame));
    };
    let helloSeen = false;
    const delays = new Map<number, number>();
    const decoder = new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING }, (raw) => {
      let frame: Frame;
      try {
        frame = parseFrame(raw);
      } catch {
        return;
      }
      if (!helloSeen) {
        if (frame.type === FrameType.HELLO) {
          helloSeen = true;
          // It never sends CREDIT: with `packing` it declares credit enough for every case instead.
          const packing = options.packing === true ? { packedMessages: 1, initialStreamCredit: 0x7fff_ffff, initialConnectionCredit: 0x7fff_ffff } : {};
          send({ type: FrameType.HELLO, flags: 0, stream: 0, payload: { versions: [1], settings: { ...quickSettings, idleTimeoutMs: 0, heartbeatIntervalMs: 0, ...packing }, agent: 'naive' } });
        }
        return;
      }
      if (options.silent === true) return;
      switch (frame.type) {
        case FrameType.PING:
          if ((frame.flags & PingFlags.ACK) === 0) send({ type: FrameType.PING, flags: PingFlags.ACK, stream: 0, payload: Uint8Array.from(frame.payload) });
          return;
        case FrameType.OPEN: {
          const d = frame.payload.meta?.['done_delay_ms'];
          delays.set(frame.stream, typeof d === 'number' ? d : 0);
          return;
        }
        case FrameType.DATA: {
          const payload = Uint8Array.from(frame.payload);
          if (options.packing === true && (frame.flags & DataFlags.PACKED) !== 0) {
            send({ type: FrameType.DATA, flags: frame.flags & (DataFlags.FOLLOWS | DataFlags.PACKED), stream: frame.stream, payload });
          } else if (options.packing === true && (frame.flags & DataFlags.FOLLOWS) === 0) {
            const record = Buffer.alloc(4 + payload.length);
            record.writeUInt32BE(payload.length, 0);
            record.set(payload, 4);
            send({ type: FrameType.DATA, flags: DataFlags.PACKED, stream: frame.stream, payload: record });
          } else {
            send({ type: FrameType.DATA, flags: frame.flags & DataFlags.FOLLOWS, stream: frame.stream, payload });
          }
          return;
        }
        case FrameType.DONE: {
          const id = frame.stream;
          setTimeout(() => {
            send({ type: FrameType.DONE, flags: 0, stream: id, payload: {} });
          }, delays.get(id) ?? 0);
          return;
        }
        case FrameType.HELLO:
        case FrameType.CREDIT:
        case FrameType.ACK:
        case FrameType.ERROR:
        case FrameType.CANCEL:
        case FrameType.GOAWAY:
          // Ignored: no flow control, no cancellation, no errors.
          return;
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        // A naive server ignores what it cannot decode.
      }
    });
  });
}

/**
 * The two QUIC libraries issue 18 names, behind one small interface so the probe measures both the
 * same way: one connection, one bidirectional stream, the client writes, the server reads to FIN.
 *
 * - quinn: the napi binding of @chainsafe/libp2p-quic (the framewire dependency, see
 *   src/transport/quic/binding.ts), libp2p Ed25519 identities.
 * - quiche: @matrixai/quic, X.509 certificates. Not a framewire dependency: install it for the
 *   comparison with `npm install --no-save @matrixai/quic@2.0.9`.
 */

import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadQuicBinding } from '../../src/transport/quic/binding.ts';
import { quinnConfig } from '../../src/transport/quic/config.ts';
import { generateQuicIdentity } from '../../src/transport/quic/identity.ts';

export interface ProbeStream {
  write(data: Uint8Array): Promise<void>;
  finish(): Promise<void>;
}

export interface ProbePair {
  readonly library: string;
  /** Opens the client's stream; `onServerBytes` counts what the server reads; `serverDone` resolves at FIN. */
  openStream(onServerBytes: (n: number) => void): Promise<{ stream: ProbeStream; serverDone: Promise<void> }>;
  /** The server's forced close (what a shutdown under load calls). */
  forceCloseServer(): Promise<void>;
  /** Resolves (or rejects) when the client learns its connection is gone. */
  clientClosed(): Promise<unknown>;
  close(): Promise<void>;
}

export async function quinnPair(): Promise<ProbePair> {
  const b = loadQuicBinding();
  // Windows as framewire's QUIC transport sets them (transport/quic/config.ts defaults); the same idle timeout as quiche's below.
  const config = new b.QuinnConfig(quinnConfig(await generateQuicIdentity(), { maxIdleTimeoutMs: 10_000 }));
  const server = new b.Server(config, '127.0.0.1', 0);
  const client = new b.Client(config, 0);
  const accepted = server.inboundConnection();
  const connection = await client.outboundConnection('127.0.0.1', server.port());
  const serverConnection = await accepted;
  return {
    library: 'quinn (@chainsafe/libp2p-quic binding 2.1.1)',
    async openStream(onServerBytes) {
      const stream = await connection.outboundStream();
      const serverDone = (async () => {
        const s = await serverConnection.inboundStream();
        for (;;) {
          const chunk = await s.read(256 * 1024);
          if (chunk === null) return;
          onServerBytes(chunk.length);
        }
      })();
      return { stream: { write: (d) => stream.write(d), finish: () => stream.finishWrite() }, serverDone };
    },
    forceCloseServer: () => server.abort(),
    clientClosed: () => connection.closed(),
    close: async () => {
      connection.abort();
      client.abort();
      await server.abort();
    },
  };
}

/** Just the parts of @matrixai/quic the probe calls. */
interface MatrixStream {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}
interface MatrixConnection extends EventTarget {
  newStream(): MatrixStream;
  closedP: Promise<void>;
}
interface MatrixModule {
  QUICServer: new (opts: object) => EventTarget & { start(o: { host: string; port: number }): Promise<void>; stop(o?: { force?: boolean }): Promise<void>; port: number };
  QUICClient: { createQUICClient(opts: object): Promise<{ connection: MatrixConnection; destroy(o?: { force?: boolean }): Promise<void>; closedP: Promise<void> }> };
  events: { EventQUICServerConnection: { name: string }; EventQUICConnectionStream: { name: string } };
}

/** Raised as far as the library allows; the issue measured about 24 MB/s with settings like these. */
const matrixConfig = {
  initialMaxData: 64 * 1024 * 1024,
  initialMaxStreamDataBidiLocal: 16 * 1024 * 1024,
  initialMaxStreamDataBidiRemote: 16 * 1024 * 1024,
  maxConnectionWindow: 64 * 1024 * 1024,
  maxStreamWindow: 16 * 1024 * 1024,
  maxSendUdpPayloadSize: 65000,
  maxRecvUdpPayloadSize: 65527,
  readableChunkSize: 256 * 1024,
  maxIdleTimeout: 10_000,
  applicationProtos: ['framewire/1'],
};

export async function quichePair(): Promise<ProbePair> {
  const name = '@matrixai/quic';
  const m = (await import(name)) as MatrixModule;
  const dir = mkdtempSync(join(tmpdir(), 'fw-quiche-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const hmacKey = randomFillSync(Buffer.alloc(32));
    const server = new m.QUICServer({
      config: { ...matrixConfig, key, cert, verifyPeer: false },
      crypto: {
        key: hmacKey.buffer,
        ops: {
          sign: (k: ArrayBuffer, data: ArrayBuffer) => Promise.resolve(new Uint8Array(createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest()).buffer),
          verify: (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) => {
            const expected = createHmac('sha256', Buffer.from(k)).update(Buffer.from(data)).digest();
            const given = Buffer.from(sig);
            return Promise.resolve(given.length === expected.length && timingSafeEqual(given, expected));
          },
        },
      },
    });
    let serverConnection: MatrixConnection | undefined;
    const serverStreams: MatrixStream[] = [];
    const streamWaiters: ((s: MatrixStream) => void)[] = [];
    server.addEventListener(m.events.EventQUICServerConnection.name, (evt) => {
      serverConnection = (evt as CustomEvent<MatrixConnection>).detail;
      serverConnection.addEventListener(m.events.EventQUICConnectionStream.name, (e) => {
        const s = (e as CustomEvent<MatrixStream>).detail;
        const w = streamWaiters.shift();
        if (w === undefined) serverStreams.push(s);
        else w(s);
      });
    });
    await server.start({ host: '127.0.0.1', port: 0 });
    const client = await m.QUICClient.createQUICClient({
      host: '127.0.0.1',
      port: server.port,
      config: { ...matrixConfig, verifyPeer: false },
      crypto: { ops: { randomBytes: (data: ArrayBuffer) => { randomFillSync(new Uint8Array(data)); return Promise.resolve(); } } },
    });
    const nextServerStream = (): Promise<MatrixStream> => {
      const s = serverStreams.shift();
      return s === undefined ? new Promise((resolve) => streamWaiters.push(resolve)) : Promise.resolve(s);
    };
    return {
      library: 'quiche (@matrixai/quic 2.0.9)',
      openStream(onServerBytes) {
        const stream = client.connection.newStream();
        const writer = stream.writable.getWriter();
        const serverDone = (async () => {
          const s = await nextServerStream();
          const reader = s.readable.getReader();
          for (;;) {
            const r = await reader.read();
            if (r.done) return;
            onServerBytes(r.value.length);
          }
        })();
        return Promise.resolve({ stream: { write: (d) => writer.write(d), finish: () => writer.close() }, serverDone });
      },
      forceCloseServer: () => server.stop({ force: true }),
      clientClosed: () => client.closedP,
      close: async () => {
        await client.destroy({ force: true });
        await server.stop({ force: true });
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

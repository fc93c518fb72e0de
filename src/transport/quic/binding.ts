/**
 * The QUIC library: quinn (Rust) through the napi-rs binding that @chainsafe/libp2p-quic ships as
 * per-platform registry packages (a prebuilt .node file, no install script). framewire uses the
 * binding directly, without libp2p: its `Server`, `Client`, `Connection` and `Stream` classes.
 * The types below are the binding's own declarations (napi.d.ts of js-libp2p-quic 2.x), narrowed
 * to what the transport calls. Every quirk of the library stays inside src/transport/quic/.
 */

import { createRequire } from 'node:module';
import { FramewireError } from '../../errors.ts';

/** quinn's transport settings as the binding takes them (milliseconds and bytes, u32 each). */
export interface QuinnConfigInput {
  /** A libp2p private key, protobuf-encoded: the TLS identity (see identity.ts). */
  privateKeyProto: Uint8Array;
  handshakeTimeout: number;
  maxIdleTimeout: number;
  keepAliveInterval: number;
  /** Bidirectional streams the peer may have open at once (QUIC MAX_STREAMS). */
  maxConcurrentStreamLimit: number;
  /** QUIC stream receive window (MAX_STREAM_DATA). */
  maxStreamData: number;
  /** QUIC connection receive window (MAX_DATA). */
  maxConnectionData: number;
  /** UDP socket buffers (the client's socket only: the binding's server socket keeps the OS default). */
  receiveBufferSize: number;
  sendBufferSize: number;
}

export interface QuinnConfig {
  readonly __brand?: 'QuinnConfig';
}

export interface QuicStream {
  id(): string;
  /** Up to maxLen bytes; null once the peer finished its half (FIN). Rejects on RESET_STREAM or connection loss. */
  read(maxLen: number): Promise<Uint8Array | null>;
  /** write_all: resolves once quinn took every byte (bounded by QUIC flow control). Calls must not overlap. */
  write(data: Uint8Array): Promise<void>;
  /** FIN after what was written. */
  finishWrite(): Promise<void>;
  /** RESET_STREAM with application code 0. */
  resetWrite(): Promise<void>;
  /** STOP_SENDING with application code 0. */
  stopRead(): Promise<void>;
}

export interface QuicConnection {
  /** The next bidirectional stream the peer opened, in stream-id order. */
  inboundStream(): Promise<QuicStream>;
  /** Opens a bidirectional stream (waits while the peer's MAX_STREAMS is used up). */
  outboundStream(): Promise<QuicStream>;
  /** CONNECTION_CLOSE (code 0) at once. */
  abort(): void;
  rtt(): number;
  id(): string;
  /** `/ip4/<addr>/udp/<port>/quic-v1/p2p/<peer id>`: the peer id is the TLS-proven identity. */
  remoteMultiaddr(): string;
  closed(): Promise<void>;
  stats(): { pathLostPackets: number; pathRtt: number; pathCwnd: number; udpTxBytes: number; udpRxBytes: number };
}

export interface QuicServer {
  port(): number;
  inboundConnection(): Promise<QuicConnection>;
  abort(): Promise<void>;
}

export interface QuicClient {
  outboundConnection(ip: string, port: number): Promise<QuicConnection>;
  abort(): void;
}

export interface QuicBinding {
  QuinnConfig: new (config: QuinnConfigInput) => QuinnConfig;
  Server: new (config: QuinnConfig, ip: string, port: number) => QuicServer;
  Client: new (config: QuinnConfig, family: 0 | 1) => QuicClient;
}

/** The binding package per platform (napi-rs naming); only linux-x64-gnu is an optional dependency today. */
function bindingPackage(): string | undefined {
  const key = `${process.platform}-${process.arch}`;
  switch (key) {
    case 'linux-x64':
    case 'linux-arm64':
      return `@chainsafe/libp2p-quic-${key}-${isMusl() ? 'musl' : 'gnu'}`;
    case 'darwin-x64':
    case 'darwin-arm64':
      return `@chainsafe/libp2p-quic-${key}`;
    case 'win32-x64':
      return '@chainsafe/libp2p-quic-win32-x64-msvc';
    default:
      return undefined;
  }
}

function isMusl(): boolean {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime === undefined;
}

let cached: QuicBinding | FramewireError | undefined;

/** The loaded binding, or a coded error saying why QUIC is not available on this machine. */
export function loadQuicBinding(): QuicBinding {
  cached ??= tryLoad();
  if (cached instanceof FramewireError) throw cached;
  return cached;
}

/**
 * True when this platform's binding package is installed, without loading it: loading starts the
 * library's runtime in the process, which a process that may never use QUIC should not pay for.
 */
export function quicInstalled(): boolean {
  const name = bindingPackage();
  if (name === undefined) return false;
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** True when the binding loads (for tests that skip loudly without it). */
export function quicAvailable(): boolean {
  try {
    loadQuicBinding();
    return true;
  } catch {
    return false;
  }
}

function tryLoad(): QuicBinding | FramewireError {
  const name = bindingPackage();
  if (name === undefined) return new FramewireError('INTERNAL', `QUIC: no prebuilt binding for ${process.platform}-${process.arch}`, { retryable: false });
  try {
    return createRequire(import.meta.url)(name) as QuicBinding;
  } catch (error) {
    return new FramewireError('INTERNAL', `QUIC: the binding package ${name} is not installed (npm install ${name}@2.1.1)`, { cause: error, retryable: false });
  }
}

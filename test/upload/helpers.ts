/**
 * Upload test scaffolding: upload servers over TCP loopback (memory or FS store), random files
 * generated at run time, a fault-injecting TCP proxy (cuts connections after N bytes; corrupts
 * chunk DATA and re-computes the frame CRC, so only the chunk checksum can catch it), a child
 * server process to SIGKILL, and a scan of the data directory for anything half-written.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { crc32 } from 'node:zlib';
import type { Connection, FramewireServer } from '../../src/index.ts';
import { FsUploadStore, MemoryUploadStore, UploadService, type UploadServiceOptions, type UploadStore } from '../../src/api/upload.ts';
import type { ClientConnection } from '../../src/session/index.ts';
import { FrameDecoder, FrameType, parseFrame, type RawFrame } from '../../src/wire/index.ts';
import { Harness, within } from '../integration/helpers.ts';

export { Harness, KiB, MiB, prng, settle, sleep, transports, waitFor, within, expectAbortError, expectFwError } from '../integration/helpers.ts';

const dirs: string[] = [];

export async function tempDir(label = 'fw-upload-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), label));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

/** A file of `size` random bytes (generated at run time), with its SHA-256. */
export async function randomFile(size: number): Promise<{ path: string; sha256: string; bytes: Buffer }> {
  const dir = await tempDir('fw-src-');
  const bytes = randomBytes(size);
  const path = join(dir, 'source.bin');
  await writeFile(path, bytes);
  return { path, sha256: sha256Hex(bytes), bytes };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of createReadStream(path) as AsyncIterable<Buffer>) h.update(piece);
  return h.digest('hex');
}

export async function readAllBytes(iterable: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of iterable) parts.push(p);
  return Buffer.concat(parts);
}

/** Every file under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(d, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** Nothing half-written is visible: objects/ holds only whole committed objects with their descriptions, no temp files anywhere. */
export async function assertNoDebris(dataDir: string, committed: readonly string[]): Promise<void> {
  const files = await listFiles(dataDir);
  const objects = files.filter((f) => f.startsWith('objects/'));
  const expected = committed.flatMap((id) => [`objects/${id}`, `objects/${id}.json`]).sort();
  if (JSON.stringify(objects) !== JSON.stringify(expected)) throw new Error(`objects/ holds ${JSON.stringify(objects)}, expected ${JSON.stringify(expected)}`);
  const debris = files.filter((f) => f.startsWith('objects-tmp/') || /\/tmp\//.test(f) || f.includes('.tmp-'));
  if (debris.length > 0) throw new Error(`temporary files left behind: ${debris.join(', ')}`);
}

export interface UploadServerSetup {
  readonly port: number;
  readonly server: FramewireServer;
  readonly store: UploadStore;
  readonly service: UploadService;
  readonly dataDir: string | undefined;
}

/** An upload server on loopback; FS store in a temp dir unless `memory`. */
export async function uploadServer(
  h: Harness,
  options: { memory?: boolean; store?: UploadStore; dataDir?: string; ttlMs?: number; now?: () => number; service?: Partial<UploadServiceOptions>; authenticate?: (c: unknown) => unknown } = {},
): Promise<UploadServerSetup> {
  const storeOptions = { ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }), ...(options.now === undefined ? {} : { now: options.now }) };
  let dataDir = options.dataDir;
  let store = options.store;
  if (store === undefined) {
    if (options.memory === true) store = new MemoryUploadStore(storeOptions);
    else {
      dataDir ??= await tempDir();
      store = new FsUploadStore({ dataDir, ...storeOptions });
    }
  }
  const service = new UploadService({ store, sweepIntervalMs: 0, ...options.service });
  const { port, server } = await h.server({ services: [service], ...(options.authenticate === undefined ? {} : { authenticate: options.authenticate }) });
  return { port, server, store, service, dataDir };
}

/** A store that hands every chunk's bytes through `transform` on their way in (a slow disk, a probe). */
export function wrapChunks(inner: UploadStore, transform: (data: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>): UploadStore {
  return {
    create: (owner, r) => inner.create(owner, r),
    get: (id) => inner.get(id),
    summary: (id) => inner.summary(id),
    acquire: (id) => inner.acquire(id),
    writeChunk: (id, c, data, signal) => inner.writeChunk(id, c, transform(data), signal),
    commit: (id, r) => inner.commit(id, r),
    abort: (id) => inner.abort(id),
    listUnfinished: (owner, after, limit) => inner.listUnfinished(owner, after, limit),
    sweep: () => inner.sweep(),
    openObject: (id) => inner.openObject(id),
    close: () => inner.close(),
  };
}

/** A connector for uploadWith() that records each connection (tests cut them). */
export function recordingConnector(h: Harness, port: number, options: { auth?: unknown } = {}): {
  connect: (signal: AbortSignal) => Promise<ClientConnection>;
  connections: Connection[];
} {
  const connections: Connection[] = [];
  return {
    connections,
    connect: async (signal) => {
      const c = await h.client({ port, signal, ...(options.auth === undefined ? {} : { auth: options.auth }) });
      connections.push(c);
      return c;
    },
  };
}

export interface ProxyPlan {
  /** Destroy both sockets once this many bytes (both directions) passed. */
  readonly cutAfterBytes?: number;
  /** Corrupt this many DATA frames of upload.chunk streams (client to server), fixing the CRC. */
  readonly corruptChunkFrames?: number;
}

/**
 * A TCP proxy between client and server that injects real faults. Each accepted connection gets
 * the plan `planFor(n)` (n = 0, 1, ...) and goes to `target` — a port, or the port for connection
 * n (a cluster: the client lands on another node after a cut).
 */
export class FaultProxy {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #planFor: (n: number) => ProxyPlan;
  #accepted = 0;
  cuts = 0;
  corrupted = 0;
  port = 0;

  constructor(target: number | ((n: number) => number), planFor: (n: number) => ProxyPlan) {
    this.#planFor = planFor;
    const portFor = typeof target === 'number' ? () => target : target;
    this.#server = net.createServer((client) => {
      const n = this.#accepted++;
      this.#pipe(client, portFor(n), this.#planFor(n));
    });
  }

  get accepted(): number {
    return this.#accepted;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this.port;
  }

  #pipe(client: net.Socket, targetPort: number, plan: ProxyPlan): void {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    let passed = 0;
    let dead = false;
    const forward = (to: net.Socket, bytes: Uint8Array): void => {
      if (dead) return;
      if (plan.cutAfterBytes !== undefined && passed + bytes.length >= plan.cutAfterBytes) {
        // Deliver a prefix, then cut mid-frame: the receiver sees EOF at an arbitrary byte.
        const keep = Math.max(0, plan.cutAfterBytes - passed);
        if (keep > 0) to.write(bytes.subarray(0, keep));
        dead = true;
        this.cuts++;
        setImmediate(() => {
          client.destroy();
          upstream.destroy();
        });
        return;
      }
      passed += bytes.length;
      to.write(bytes);
    };
    upstream.on('data', (b: Buffer) => {
      forward(client, b);
    });
    let toCorrupt = plan.corruptChunkFrames ?? 0;
    if (toCorrupt === 0) {
      client.on('data', (b: Buffer) => {
        forward(upstream, b);
      });
      return;
    }
    const kinds = new Map<number, string>();
    const decoder = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 }, (raw: RawFrame) => {
      let frame = raw;
      if (raw.type === FrameType.OPEN) {
        const open = parseFrame({ ...raw, payload: Buffer.from(raw.payload) });
        if (open.type === FrameType.OPEN) kinds.set(raw.stream, open.payload.kind);
      } else if (raw.type === FrameType.DATA && toCorrupt > 0 && raw.payload.length > 0 && kinds.get(raw.stream) === 'upload.chunk') {
        toCorrupt--;
        this.corrupted++;
        const payload = Buffer.from(raw.payload);
        payload[payload.length >> 1]! ^= 0x5a;
        frame = { ...raw, payload };
      }
      forward(upstream, encodeRaw(frame));
    });
    client.on('data', (b: Buffer) => {
      decoder.push(b);
    });
  }

  /** Cuts every live connection now. */
  cutAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => { resolve(); }));
  }
}

/** A frame's bytes with a freshly computed CRC (the corruption is invisible to framing). */
function encodeRaw(f: RawFrame): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt32BE(f.payload.length, 0);
  header[4] = f.type;
  header[5] = f.flags;
  header.writeUInt32BE(f.stream, 8);
  header.writeUInt32BE(f.seq, 12);
  header.writeUInt32BE(crc32(f.payload, crc32(header.subarray(0, 16))), 16);
  return Buffer.concat([header, f.payload]);
}

/** The fixture server as a child process (node --import tsx), on `port` (0: any). */
export async function spawnServer(dataDir: string, port = 0): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'server.ts'), dataDir, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => {
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => {
      reject(new Error(`server exited with ${code}`));
    });
  });
  return { child, port: await within(ready, 20_000, 'child server start') };
}

export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  child.kill('SIGKILL');
  await within(exited, 5000, 'SIGKILL');
}

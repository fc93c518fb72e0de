/**
 * The server `framewire serve` runs (and the demo starts): the file-system upload store and the
 * read profile over its committed objects, the built-in event streams, optional TLS and token auth (one principal per token, tokens.ts),
 * assembled from the library's public parts.
 */

import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { conformanceService } from '../conformance/index.ts';
import type { ServerLimits } from '../admission.ts';
import { EventService, RedisReplayStore, type EventLimits } from '../events/index.ts';
import { PERF_KINDS, perfService, type PerfLimits } from '../perf/index.ts';
import { createServer, type FramewireServer } from '../server.ts';
import type { CaptureSink } from '../transport/index.ts';
import type { QuicIdentity } from '../transport/index.ts';
import type { SessionLimits } from '../session/index.ts';
import { ObjectService } from '../objects/index.ts';
import { claimDataDir, FsUploadStore, RedisUploadStore, UploadService, type DataDirClaim, type UploadQuotaLimits } from '../upload/index.ts';
import { registerBuiltinStreams, type BuiltinStreamOptions } from './builtin-streams.ts';
import { tokenAuthenticator, type TokenTable } from './tokens.ts';

export interface ServerAppOptions {
  readonly host: string;
  readonly port: number;
  /** Uploads and objects; with `redis`, the chunk directory every node of the cluster mounts. */
  readonly dataDir: string;
  /**
   * A redis:// URL: upload sessions live in that Redis and bytes in `dataDir`, and event streams'
   * replay logs in Redis Streams, shared by every node (issue 19), so a client resumes on any node.
   * Absent: the local file-system store and in-memory replay logs.
   */
  readonly redis?: string;
  readonly logger: Logger;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** Clients must send one of these tokens in HELLO auth ({ token }); each names its principal. Absent: everyone is "anonymous". */
  readonly tokens?: TokenTable;
  readonly uploadTtlMs?: number;
  /** Budgets of unfinished uploads (FW-UP-37); absent keys take the defaults. */
  readonly uploadQuota?: Partial<UploadQuotaLimits>;
  /** Aggregate limits of event-stream instances (FW-EV-71); absent keys take the defaults. */
  readonly eventLimits?: Partial<EventLimits>;
  readonly tailFile?: string;
  /** fsync uploads (default true); the demo may turn it off on slow disks. */
  readonly durable?: boolean;
  readonly onProducerStop?: BuiltinStreamOptions['onProducerStop'];
  /** Also serve over QUIC on this UDP port (0 picks a free one). */
  readonly quicPort?: number;
  /** The QUIC identity; a throw-away one when absent. */
  readonly quicIdentity?: QuicIdentity;
  /** Connection admission limits (src/admission.ts); absent keys take the defaults. */
  readonly serverLimits?: Partial<ServerLimits>;
  /** Session limits (deadlines …); absent keys take the server defaults. */
  readonly sessionLimits?: Partial<SessionLimits>;
  /** Offer the benchmark kinds (perf.sink, perf.source, perf.echo) within these limits; off when absent. */
  readonly perf?: Partial<PerfLimits>;
  /** Capture every TCP connection's bytes for `framewire inspect`. */
  readonly capture?: CaptureSink;
}

export interface ServerApp {
  readonly server: FramewireServer;
  readonly address: AddressInfo;
  /** The QUIC endpoint, when serving QUIC: its port and the peer id clients pin. */
  readonly quic: { readonly port: number; readonly peerId: string } | undefined;
  readonly streams: readonly string[];
  /** The benchmark kinds offered (empty unless enabled). */
  readonly perfKinds: readonly string[];
  readonly uploads: UploadService;
  readonly events: EventService;
  close(deadlineMs?: number): Promise<void>;
}

/** Starts the server; rejects (a DataDirError) before listening when the data directory is unusable or taken. */
export async function startServerApp(o: ServerAppOptions): Promise<ServerApp> {
  // With Redis, nodes share the directory on purpose: only the FS store owns one (FW-UP-63).
  const claim = o.redis === undefined ? await claimDataDir(o.dataDir) : undefined;
  try {
    return await startOn(o, claim);
  } catch (error) {
    await claim?.release();
    throw error;
  }
}

async function startOn(o: ServerAppOptions, claim: DataDirClaim | undefined): Promise<ServerApp> {
  const storeOptions = {
    dataDir: o.dataDir,
    durable: o.durable ?? true,
    ...(o.uploadTtlMs === undefined ? {} : { ttlMs: o.uploadTtlMs }),
    ...(o.uploadQuota === undefined ? {} : { quota: o.uploadQuota }),
  };
  const store = o.redis === undefined ? new FsUploadStore(storeOptions) : new RedisUploadStore({ ...storeOptions, redis: o.redis });
  // Recovery runs now, not at the first upload: storage it cannot use fails the start.
  await store.ready;
  const uploads = new UploadService({ store, logger: o.logger });
  // The read profile serves what the upload store committed (spec/OBJECTS.md).
  const objects = new ObjectService({ objects: store.objects, logger: o.logger });
  const replayStore = o.redis === undefined ? undefined : new RedisReplayStore({ redis: o.redis, logger: o.logger });
  try {
    await replayStore?.ready;
  } catch (error) {
    await replayStore?.close();
    await store.close();
    throw error;
  }
  const events = new EventService({ logger: o.logger, ...(replayStore === undefined ? {} : { store: replayStore }), ...(o.eventLimits === undefined ? {} : { limits: o.eventLimits }) });
  const streams = registerBuiltinStreams(events, {
    ...(o.tailFile === undefined ? {} : { tailFile: o.tailFile }),
    ...(o.onProducerStop === undefined ? {} : { onProducerStop: o.onProducerStop }),
  });
  const tls = o.tlsCert !== undefined && o.tlsKey !== undefined ? { cert: await readFile(o.tlsCert), key: await readFile(o.tlsKey) } : undefined;
  const tokens = o.tokens;
  const server = createServer({
    // The conformance target services (conformance.echo, conformance.sink) let `framewire conformance` test this server.
    services: [uploads, objects, events, conformanceService(), ...(o.perf === undefined ? [] : [perfService(o.perf)])],
    logger: o.logger,
    ...(o.serverLimits === undefined ? {} : { serverLimits: o.serverLimits }),
    ...(o.sessionLimits === undefined ? {} : { limits: o.sessionLimits }),
    ...(tls === undefined ? {} : { tls }),
    ...(o.quicPort === undefined ? {} : { quic: { port: o.quicPort, ...(o.quicIdentity === undefined ? {} : { identity: o.quicIdentity }) } }),
    ...(tokens === undefined ? {} : { authenticate: tokenAuthenticator(tokens) }),
    ...(o.capture === undefined ? {} : { capture: o.capture }),
  });
  const address = await server.listen(o.port, o.host);
  return {
    server,
    address,
    quic: server.quicAddress,
    streams,
    perfKinds: o.perf === undefined ? [] : PERF_KINDS,
    uploads,
    events,
    close: async (deadlineMs = 10_000) => {
      await server.close({ deadlineMs });
      await replayStore?.close();
      await store.close();
      await claim?.release();
    },
  };
}

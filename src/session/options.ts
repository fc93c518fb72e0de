/**
 * Session options: the settings we declare in HELLO plus local limits (spec §6, §8.8).
 * Every buffer, count and wait has a name here, a default, and a check.
 */

import { invalidArgument } from '../errors.ts';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { defaultSettings, invalidSetting, PROTOCOL_VERSION, type Settings } from '../wire/index.ts';
import { systemClock, type Clock } from './clock.ts';

/** Which side of the handshake a session plays. */
export type Role = 'client' | 'server';

/**
 * How the scheduler interleaves DATA of streams of the same urgency (spec §8.4, a local policy):
 * `round-robin` sends one frame per stream in turn (FW-SCHED-2); `fifo` serves the stream that
 * became ready first until it has nothing sendable. FIFO is for experiments (bench/hol.bench.ts).
 */
export type SchedulingPolicy = 'round-robin' | 'fifo';
export const schedulingPolicies: readonly SchedulingPolicy[] = ['round-robin', 'fifo'];

/**
 * Local limits of a session (spec/PROTOCOL.md §8.8): every buffer, count and wait, each with a default in
 * `defaultLimits`.
 */
export interface SessionLimits {
  /** Deadline for the peer's HELLO (FW-HS-5); a server counts it from the TCP accept, so it covers TLS too. */
  readonly handshakeTimeoutMs: number;
  /** A frame whose first bytes arrived must be complete within this (FW-LIMIT-6): trickling a frame holds nothing. 0 = no deadline. */
  readonly frameTimeoutMs: number;
  /**
   * A connection with no open stream for this long is closed with GOAWAY (FW-LIMIT-7), as HTTP servers
   * close idle keep-alive connections: pinging holds nothing either. 0 = never (the default for
   * clients; createServer() defaults to 60 s).
   */
  readonly unusedConnectionTimeoutMs: number;
  /** Auto-tuning ceiling for one stream's receive window. */
  readonly maxStreamWindow: number;
  /** Auto-tuning ceiling for the connection's receive window. */
  readonly maxConnectionWindow: number;
  /** Bytes a stream may queue for sending before write() waits (memory bound per stream); each queued write counts 20 bytes more, so empty messages are paced too. */
  readonly streamWriteBuffer: number;
  /**
   * Bytes the transport may hold unsent before the scheduler stops passing it DATA, which then
   * stays queued where control frames overtake it: at most 1 MiB (FW-SCHED-6, spec §8.4).
   */
  readonly transportHighWater: number;
  /** DATA bytes the scheduler sends in one turn before yielding the event loop. */
  readonly sendBurstBytes: number;
  /** Local open() calls waiting for a stream slot of the peer. */
  readonly maxPendingOpens: number;
  /** Control frames waiting to be sent before the connection is declared stuck. */
  readonly maxControlQueue: number;
  /** Peer-cancelled (or refused) streams per second, and burst, before ENHANCE_YOUR_CALM (FW-LIMIT-2). */
  readonly resetRatePerSecond: number;
  readonly resetBurst: number;
  /** Peer PINGs per second, and burst, before ENHANCE_YOUR_CALM (FW-LIMIT-3). */
  readonly pingRatePerSecond: number;
  readonly pingBurst: number;
  /** Empty DATA frames per second, and burst, before ENHANCE_YOUR_CALM (FW-LIMIT-4). */
  readonly emptyFrameRatePerSecond: number;
  readonly emptyFrameBurst: number;
  /** Default deadline for in-flight streams after GOAWAY. */
  readonly goawayDeadlineMs: number;
  /** Interleaving of same-urgency streams' DATA (see SchedulingPolicy). */
  readonly schedulingPolicy: SchedulingPolicy;
  /**
   * Pack runs of small queued messages into one DATA frame when the peer accepts it (spec §8.2.6).
   * Receiving packed frames is governed by the `packedMessages` setting we declare (1 by default).
   */
  readonly packMessages: boolean;
  /** Largest message that is packed (bytes); longer ones get frames of their own. 0 = never pack. */
  readonly packMaxMessage: number;
  /** Largest PACKED frame payload (bytes; also bounded by the peer's max_frame_payload and the credit). */
  readonly packMaxFrame: number;
}

/** FW-SCHED-6: the most a sender may hold between its scheduler and the transport. */
export const MAX_TRANSPORT_HIGH_WATER = 1024 * 1024;

/** The default of every session limit. */
export const defaultLimits: SessionLimits = {
  handshakeTimeoutMs: 5_000,
  frameTimeoutMs: 10_000,
  unusedConnectionTimeoutMs: 0,
  maxStreamWindow: 16 * 1024 * 1024,
  maxConnectionWindow: 64 * 1024 * 1024,
  streamWriteBuffer: 1024 * 1024,
  transportHighWater: MAX_TRANSPORT_HIGH_WATER,
  sendBurstBytes: 1024 * 1024,
  maxPendingOpens: 1024,
  maxControlQueue: 65_536,
  resetRatePerSecond: 200,
  resetBurst: 1000,
  pingRatePerSecond: 50,
  pingBurst: 100,
  emptyFrameRatePerSecond: 1000,
  emptyFrameBurst: 5000,
  goawayDeadlineMs: 30_000,
  schedulingPolicy: 'round-robin',
  packMessages: true,
  packMaxMessage: 1024,
  packMaxFrame: 16 * 1024,
};

/** The server's authentication hook: resolve to a principal (any value) to accept, throw or return false to refuse. */
export type Authenticate = (credentials: unknown) => unknown;

/** Options of a session: what it declares in HELLO, its limits, authentication, clock and logger. */
export interface SessionOptions {
  readonly role: Role;
  /** Settings we declare (what we accept); the rest take defaults. */
  readonly settings?: Partial<Settings>;
  readonly limits?: Partial<SessionLimits>;
  /** Client: credentials sent in HELLO. */
  readonly auth?: unknown;
  /** Server: accepts or refuses the client's credentials (FW-HS-6). */
  readonly authenticate?: Authenticate;
  readonly versions?: readonly number[];
  readonly agent?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** An id for logs; assigned when absent. */
  readonly connectionId?: string;
}

export interface ResolvedSessionOptions {
  readonly role: Role;
  readonly settings: Settings;
  readonly limits: SessionLimits;
  readonly auth: unknown;
  readonly authenticate: Authenticate | undefined;
  readonly versions: readonly number[];
  readonly agent: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly connectionId: string;
}

let nextConnectionId = 1;

export function resolveSessionOptions(options: SessionOptions): ResolvedSessionOptions {
  // We accept packed messages unless told otherwise: the protocol default (absent) is 0 (FW-SET-1).
  const settings: Settings = { ...defaultSettings, packedMessages: 1, ...options.settings };
  const bad = invalidSetting(settings);
  if (bad !== undefined) throw invalidArgument(`invalid setting: ${bad}`);
  const limits: SessionLimits = { ...defaultLimits, ...options.limits };
  for (const [key, value] of Object.entries(limits)) {
    if (key === 'schedulingPolicy') {
      if (!schedulingPolicies.includes(value as SchedulingPolicy)) throw invalidArgument(`invalid limit ${key}: ${String(value)} (choose from ${schedulingPolicies.join(', ')})`);
      continue;
    }
    if (key === 'packMessages') {
      if (typeof value !== 'boolean') throw invalidArgument(`invalid limit ${key}: ${String(value)} (true or false)`);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidArgument(`invalid limit ${key}: ${String(value)}`);
  }
  if (limits.transportHighWater > MAX_TRANSPORT_HIGH_WATER) {
    throw invalidArgument(`invalid limit transportHighWater: ${limits.transportHighWater} is above ${MAX_TRANSPORT_HIGH_WATER} (FW-SCHED-6)`);
  }
  const versions = options.versions ?? [PROTOCOL_VERSION];
  if (versions.length === 0) throw invalidArgument('versions must not be empty');
  const connectionId = options.connectionId ?? `c${(nextConnectionId++).toString(36)}`;
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ conn: connectionId, role: options.role });
  return {
    role: options.role,
    settings,
    limits,
    auth: options.auth,
    authenticate: options.authenticate,
    versions,
    agent: options.agent ?? 'framewire-ts/0.1',
    clock: options.clock ?? systemClock,
    logger,
    connectionId,
  };
}


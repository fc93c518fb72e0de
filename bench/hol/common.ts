/**
 * What the head-of-line study's processes share (bench/hol.bench.ts, bench/hol/server.ts,
 * bench/hol/client.ts): the sweep's dimensions, one measurement point's spec and result, and the
 * IPC messages between the orchestrator and its two children.
 */

import { KiB, MiB } from '../lib/report.ts';

/** The receiver's max_frame_payload, which the bulk sender obeys (FW-SCHED-5). */
export const FRAME_SIZES = [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB] as const;

/**
 * How the framewire sender interleaves the interactive stream with the bulk streams:
 * - `fifo`        SessionLimits.schedulingPolicy 'fifo', every stream at the default urgency: the
 *                 stream that became ready first is served until it has nothing sendable.
 * - `round-robin` the default scheduler, every stream at the default urgency (3): one frame each in turn.
 * - `urgency`     the default scheduler, the interactive stream at urgency 0, the bulk streams at 3.
 */
export const POLICIES = ['fifo', 'round-robin', 'urgency'] as const;
export type Policy = (typeof POLICIES)[number];

export const BULK_COUNTS = [1, 4, 16] as const;

/**
 * Where the interactive request/echo travels:
 * - `framewire`    a stream of the framewire connection that carries the bulk streams (the HOL case);
 * - `tcp-separate` its own raw node:net connection (4-byte length-prefixed records), while the bulk
 *                  streams load a framewire connection (round-robin) as above: the floor that the
 *                  machine and the kernel give under the same load, without sharing a byte stream;
 * - `http2`        a node:http2 stream of the session that carries N bulk streams (windows raised).
 */
export const TRANSPORTS = ['framewire', 'tcp-separate', 'http2'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export interface Ports {
  /** The framewire server whose max_frame_payload is the point's frame size. */
  readonly framewire: number;
  readonly tcp: number;
  readonly http2: number;
}

const H2_MAX_WINDOW = 2 ** 31 - 1;

/**
 * node:http2 options of both sides: windows at the protocol maximum, as bench/e2e uses them, and
 * maxSessionMemory raised from its 10 MB default, which 16 bulk streams with windows this large
 * exceed (nghttp2 then resets streams with ENHANCE_YOUR_CALM).
 */
export const h2Options = { settings: { initialWindowSize: H2_MAX_WINDOW, maxFrameSize: 2 ** 24 - 1 }, maxSessionMemory: 1024 } as const;
export const H2_LOCAL_WINDOW = H2_MAX_WINDOW;

/** One measurement point, as the client runs it. */
export interface PointSpec {
  readonly transport: Transport;
  /** framewire scheduling of the bulk connection ('round-robin' for the baselines). */
  readonly policy: Policy;
  /** max_frame_payload declared by both framewire peers; unused for http2. */
  readonly maxFramePayload: number;
  readonly bulkStreams: number;
  /** Bytes per bulk write() (a message): large enough that frames are cut by max_frame_payload, not by the write. */
  readonly bulkWriteSize: number;
  /** Interactive request and echo size. */
  readonly messageSize: number;
  /** Bulk runs alone this long first (windows grow, queues fill). */
  readonly warmMs: number;
  /** Requests are issued for this long, one in flight at a time. */
  readonly durationMs: number;
  /** At the end, the request in flight gets at most this long to come back before it is counted as censored. */
  readonly tailMs: number;
  readonly ports: Ports;
}

export interface Latency {
  readonly count: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

export interface PointResult {
  readonly latency: Latency;
  /** Requests still unanswered after `tailMs` (recorded in the histogram at the time waited). */
  readonly censored: number;
  /** Bulk payload bytes the server received while requests were measured, and over how long. */
  readonly bulkBytes: number;
  readonly bulkSeconds: number;
  /** Mean payload of the bulk DATA frames framewire sent in the window (frames are cut by credit too); 0 for http2. */
  readonly meanBulkFrame: number;
  /** CPU seconds of the client process during the point (user + system). */
  readonly clientCpu: number;
}

/** The sink's reply: bytes received and (epoch ms, cumulative bytes) checkpoints. */
export interface SinkReply {
  readonly bytes: number;
  readonly marks: readonly (readonly [number, number])[];
}

/** Checkpoints at most this often: enough resolution to cut a 1 s window to within 1 %. */
export const MARK_INTERVAL_MS = 10;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Counts a sink's bytes and leaves checkpoints for the throughput window. */
export class SinkCounter {
  bytes = 0;
  readonly marks: [number, number][] = [];
  #lastMark = 0;

  push(length: number): void {
    this.bytes += length;
    const now = epochMs();
    if (now - this.#lastMark >= MARK_INTERVAL_MS) {
      this.marks.push([now, this.bytes]);
      this.#lastMark = now;
    }
  }

  reply(): SinkReply {
    this.marks.push([epochMs(), this.bytes]);
    return { bytes: this.bytes, marks: this.marks };
  }
}

/** Cumulative bytes of a sink at time `t` (epoch ms), interpolated between checkpoints. */
export function bytesAt(marks: readonly (readonly [number, number])[], t: number): number {
  let prev: readonly [number, number] = [Number.NEGATIVE_INFINITY, 0];
  for (const m of marks) {
    if (m[0] >= t) {
      if (prev[0] === Number.NEGATIVE_INFINITY) return 0;
      return prev[1] + ((m[1] - prev[1]) * (t - prev[0])) / Math.max(1e-9, m[0] - prev[0]);
    }
    prev = m;
  }
  return prev[1];
}

/** Orchestrator -> child. */
export type ParentMessage =
  | { readonly cmd: 'framewire-port'; readonly id: number; readonly maxFramePayload: number }
  | { readonly cmd: 'run'; readonly id: number; readonly spec: PointSpec }
  | { readonly cmd: 'exit' };

/** Child -> orchestrator. */
export type ChildMessage =
  | { readonly type: 'started'; readonly ports?: { readonly tcp: number; readonly http2: number } }
  | { readonly type: 'port'; readonly id: number; readonly port: number }
  | { readonly type: 'result'; readonly id: number; readonly result: PointResult }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

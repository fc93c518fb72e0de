/**
 * What the end-to-end benchmark's processes share: the protocols compared, the stream kinds the
 * server understands, the IPC messages between the orchestrator (bench/e2e.bench.ts) and its
 * children (server.ts, client.ts), and small helpers.
 *
 * Every protocol runs the same workload through the same two interfaces, `ClientConn`/`ClientPipe`
 * on the sending side and a per-protocol server, so the only thing that differs between rows of a
 * table is the protocol stack.
 */

/**
 * The stacks that run as a client and a server child process. Two raw node:net baselines, labelled
 * by how they write, because how a sender batches its writes decides how often the receiver wakes:
 * - `raw-64k`: one `socket.write()` of 64 KiB per call (what an application does unaided);
 * - `raw-batched`: the same 64 KiB writes corked and handed to the kernel as one writev of up to
 *   1 MiB per event-loop turn, as framewire's transport does (see RAW_BATCH in protocols.ts).
 */
export const PROTOCOLS = ['raw-64k', 'raw-batched', 'http2', 'yamux', 'framewire', 'framewire-quic'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The raw node:net baselines; a framewire ratio is taken against the better of them. */
export const RAW_PROTOCOLS: readonly Protocol[] = ['raw-64k', 'raw-batched'];

/**
 * Every contender of a case: the child-process stacks, plus `iperf3` (a C program, spawned per
 * run) as the kernel's TCP limit on this machine, in the throughput cases only.
 */
export const CONTENDERS = [...PROTOCOLS, 'iperf3'] as const;
export type Contender = (typeof CONTENDERS)[number];

/**
 * What the server does with a stream, named in the stream's header (OPEN target, :path, or a
 * one-line prefix for raw TCP and yamux):
 * - `sink`               read everything until the end, reply `{ bytes }` as JSON and end.
 * - `msgs`               count messages until the end (framewire: whole messages; the others:
 *                        4-byte big-endian length-prefixed records), reply `{ messages, bytes }`.
 * - `msgs-batches`       framewire only: as `msgs`, read with `stream.batches()` (one await per
 *                        batch of queued messages) instead of one `for await` step per message
 *                        (the client sends with `stream.send()`/`drained()`).
 * - `echo`               write back every byte read; end when the peer ends.
 * - `stall:<prefix>:<ms>` read `prefix` bytes, stop reading for `ms` milliseconds while sampling
 *                        RSS, then read the rest; reply `{ bytes, stall: StallReport }`.
 */
export type StreamKind = 'sink' | 'msgs' | 'msgs-batches' | 'echo' | `stall:${number}:${number}`;

export interface StallReport {
  /** RSS when the reader stopped. */
  readonly rssAtStallStart: number;
  /** Highest RSS sampled while the reader was stopped. */
  readonly rssPeak: number;
  /** RSS of the idle server before the connection was made. */
  readonly rssIdle: number;
  /** Bytes received during the stall (what the protocol let the sender push at a stopped reader). */
  readonly bytesDuringStall: number;
  /** Bytes the protocol layer held for the stopped reader at the end of the stall, where it tells. */
  readonly heldBytes: number | undefined;
  /** The receive window granted to the sender at the end of the stall (framewire: stream + connection). */
  readonly grantedBytes: number | undefined;
}

export interface Reply {
  readonly bytes: number;
  readonly messages?: number;
  readonly stall?: StallReport;
}

export interface CpuSeconds {
  readonly user: number;
  readonly system: number;
  readonly total: number;
}

export function cpuSince(start: NodeJS.CpuUsage): CpuSeconds {
  const d = process.cpuUsage(start);
  return { user: d.user / 1e6, system: d.system / 1e6, total: (d.user + d.system) / 1e6 };
}

/** Cases the client runs; sizes in bytes. */
export type CaseSpec =
  | { readonly case: 'bulk'; readonly streams: number; readonly bytesPerStream: number; readonly writeSize: number }
  | { readonly case: 'msgs'; readonly messages: number; readonly messageSize: number; readonly api: 'per-message' | 'batched' }
  | { readonly case: 'hol'; readonly bulkBytes: number; readonly writeSize: number; readonly pingSize: number; readonly separate: boolean; readonly minPings: number }
  | { readonly case: 'stall'; readonly bytes: number; readonly writeSize: number; readonly prefix: number; readonly stallMs: number };

export interface CaseResult {
  /** Seconds from the first byte written to the last reply received. */
  readonly seconds: number;
  /** Payload bytes moved (all streams). */
  readonly bytes: number;
  readonly messages?: number;
  readonly clientCpu: CpuSeconds;
  readonly pings?: { readonly count: number; readonly p50Us: number; readonly p99Us: number; readonly maxUs: number; readonly samplesUs: readonly number[] };
  /** Seconds the bulk stream of the HOL case took. */
  readonly bulkSeconds?: number;
  readonly stall?: StallReport;
}

/** Orchestrator -> child. */
export type ParentMessage =
  | { readonly cmd: 'run'; readonly id: number; readonly port: number; readonly spec: CaseSpec }
  | { readonly cmd: 'cpu-mark'; readonly id: number }
  | { readonly cmd: 'cpu-read'; readonly id: number }
  | { readonly cmd: 'exit' };

/** Child -> orchestrator. */
export type ChildMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly result: CaseResult }
  | { readonly type: 'cpu'; readonly id: number; readonly cpu: CpuSeconds }
  | { readonly type: 'ack'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** The header that names a stream's kind on raw TCP and yamux: one length byte, then ASCII. */
export function encodeKindHeader(kind: string): Buffer {
  const text = Buffer.from(kind, 'latin1');
  if (text.length > 255) throw new RangeError('kind too long');
  return Buffer.concat([Buffer.from([text.length]), text]);
}

/**
 * Parses length-prefixed records (4-byte big-endian length, then the bytes) across chunks and
 * counts them; the way a message protocol is layered over a byte stream.
 */
export class RecordCounter {
  count = 0;
  /** Bytes still to skip in the current record's body. */
  #skip = 0;
  /** Partial length prefix. */
  #prefix = 0;
  #prefixFill = 0;

  push(chunk: Uint8Array): void {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, end - at);
        this.#skip -= take;
        at += take;
        if (this.#skip === 0) this.count++;
        continue;
      }
      this.#prefix = ((this.#prefix << 8) | chunk[at++]!) >>> 0;
      if (++this.#prefixFill === 4) {
        this.#skip = this.#prefix;
        this.#prefix = 0;
        this.#prefixFill = 0;
        if (this.#skip === 0) this.count++;
      }
    }
  }
}

/** Samples RSS every few milliseconds until stopped; returns the peak. */
export function sampleRss(intervalMs = 10): { stop: () => number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

export function parseStallKind(kind: string): { prefix: number; stallMs: number } | undefined {
  const m = /^stall:(\d+):(\d+)$/.exec(kind);
  return m === null ? undefined : { prefix: Number(m[1]), stallMs: Number(m[2]) };
}

/** The RSS of this process before it served anything (set once at start by server.ts). */
export const idle = { rss: 0 };

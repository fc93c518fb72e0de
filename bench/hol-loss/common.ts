/**
 * What the head-of-line-under-loss study's processes share (bench/hol-loss.bench.ts, run.ts,
 * server.ts, client.ts): the cases compared, one run's spec and result, and the 64-byte ping
 * record that measures round trips on the client's own clock.
 */

/**
 * - `fw-tcp`          framewire, ping and bulk streams on one TCP connection;
 * - `fw-tcp-unpaced`  the same with the bulk senders unpaced (as fast as TCP lets them);
 * - `fw-tcp-separate` framewire, the ping stream on a TCP connection of its own, each bulk stream on its own;
 * - `fw-quic`         framewire over QUIC, one connection, each stream on its own QUIC stream;
 * - `http2`           node:http2, one session (windows raised to the maximum);
 * - `yamux`           @chainsafe/libp2p-yamux over one TCP connection.
 * framewire gives the ping stream urgency 0, so its own scheduler never queues it behind bulk
 * (the sender-side head-of-line blocking that bench/hol measures): what remains is the transport's.
 */
export const CASES = ['fw-tcp', 'fw-tcp-unpaced', 'fw-tcp-separate', 'fw-quic', 'http2', 'yamux'] as const;
export type CaseName = (typeof CASES)[number];

export const CASE_LABELS: Record<CaseName, string> = {
  'fw-tcp': '(a) framewire, one TCP connection',
  'fw-tcp-unpaced': '(a) framewire, one TCP connection, UNPACED bulk',
  'fw-tcp-separate': '(b) framewire, separate TCP connections',
  'fw-quic': '(c) framewire over QUIC',
  http2: '(d) node:http2, one session',
  yamux: '(e) yamux, one TCP connection',
};

export const LOSS_LEVELS = [0, 0.5, 1, 2, 5] as const;

/** What the server process prints once it listens. */
export interface ServerPorts {
  readonly framewire: number;
  readonly quic: number;
  readonly quicPeerId: string;
  readonly http2: number;
  readonly yamux: number;
}

export interface RunSpec {
  readonly caseName: CaseName;
  readonly host: string;
  readonly ports: ServerPorts;
  readonly durationMs: number;
  /** Bulk load before the first ping, so queues are full when measuring starts. */
  readonly warmMs: number;
  readonly pingIntervalMs: number;
  readonly bulkStreams: number;
  /** Total bulk rate in bytes/s across the bulk streams; 0 = unpaced. */
  readonly bulkRate: number;
  /** How long to wait for pings still in flight when measuring ends. */
  readonly graceMs: number;
}

export interface PingStats {
  readonly sent: number;
  /** Echoes that never came back within the grace period (counted as at least the grace period in the percentiles). */
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Stall episodes: runs of consecutive pings whose round trip exceeded the threshold. */
  readonly stalls50: number;
  readonly stalls200: number;
}

export interface RunResult {
  readonly caseName: CaseName;
  readonly ping: PingStats;
  readonly bulk: { readonly bytes: number; readonly seconds: number; readonly mbPerSecond: number };
  readonly error?: string;
  /** Kernel counters over the run, both namespaces added (set by run.ts). */
  readonly kernel?: { readonly tcpRetransSegs: number; readonly tcpOutSegs: number; readonly udpRcvbufErrors: number; readonly udpInDatagrams: number };
}

export const PING_SIZE = 64;

/** A ping: sequence number and the client's send time (performance.now(), ms), padded to 64 bytes. */
export function encodePing(seq: number, sentAt: number): Buffer {
  const b = Buffer.alloc(PING_SIZE);
  b.writeUInt32BE(seq, 0);
  b.writeDoubleBE(sentAt, 4);
  return b;
}

export function decodePing(b: Uint8Array): { seq: number; sentAt: number } {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { seq: view.readUInt32BE(0), sentAt: view.readDoubleBE(4) };
}

/** Cuts a byte stream into 64-byte ping records (for the byte-stream protocols: http2, yamux). */
export function pingRecords(onRecord: (r: Uint8Array) => void): (chunk: Uint8Array) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    while (pending.length >= PING_SIZE) {
      onRecord(pending.subarray(0, PING_SIZE));
      pending = pending.subarray(PING_SIZE);
    }
  };
}

/** Percentiles and stall episodes of round trips (ms); lost pings count as `lostMs`. */
export function pingStats(rtts: readonly number[], sent: number, lostMs: number): PingStats {
  const lost = sent - rtts.length;
  const all = [...rtts, ...Array.from({ length: Math.max(0, lost) }, () => lostMs)].sort((a, b) => a - b);
  const at = (q: number): number => (all.length === 0 ? NaN : all[Math.min(all.length - 1, Math.ceil(q * all.length) - 1)]!);
  const episodes = (threshold: number): number => {
    let n = 0;
    let inside = false;
    for (const r of rtts) {
      if (r > threshold && !inside) n++;
      inside = r > threshold;
    }
    return n;
  };
  return {
    sent,
    lost: Math.max(0, lost),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    p999Ms: round(at(0.999)),
    maxMs: round(all.at(-1) ?? NaN),
    stalls50: episodes(50),
    stalls200: episodes(200),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * For experiments only, as in bench/e2e: FW_BENCH_OPTIONS='{"settings":{...},"limits":{...}}'
 * overrides framewire's defaults on both sides. The committed results use the defaults.
 */
export const fwOverrides = ((): { limits?: Record<string, number>; settings?: Record<string, number> } => {
  const text = process.env['FW_BENCH_OPTIONS'];
  return text === undefined || text === '' ? {} : (JSON.parse(text) as { limits?: Record<string, number>; settings?: Record<string, number> });
})();

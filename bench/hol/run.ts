/**
 * The head-of-line study's orchestrator: starts one server and one client process (node --import
 * tsx, loopback), sweeps max_frame_payload × scheduling policy × bulk stream count plus the
 * separate-TCP and http2 baselines, repeat by repeat (every point once per repeat, so load drifts
 * hit all points alike), and reports medians as JSON, Markdown and SVG charts.
 *
 * Transport-level head-of-line blocking (one lost TCP segment stalls every stream behind it) needs
 * real packet loss (tc netem on a veth pair or in a network namespace, CAP_NET_ADMIN; a user-space
 * proxy cannot lose segments) and is not measured here; neither is QUIC, where
 * each framewire stream rides its own QUIC stream (ARCHITECTURE.md, L4). Both belong in a separate
 * study: a new `Transport` in common.ts (e.g. 'framewire-quic'), a loss setting in PointSpec, and a
 * server listener for it are the places to add them; the sweep and the report need no change.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, formatNumber, formatSize, machineInfo, markdownTable, MiB, RESULTS_DIR, summarize, writeResults, type MachineInfo } from '../lib/report.ts';
import { holCharts } from './charts.ts';
import {
  BULK_COUNTS,
  FRAME_SIZES,
  POLICIES,
  TRANSPORTS,
  type ChildMessage,
  type ParentMessage,
  type Policy,
  type PointResult,
  type PointSpec,
  type Transport,
} from './common.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface HolOptions {
  readonly smoke: boolean;
  /** Results go to bench/results/<name>.json and <name>-*.svg (smoke: <name>.tmp.json, charts in tmp/hol-smoke/). */
  readonly name: string;
  readonly frames: readonly number[];
  readonly policies: readonly Policy[];
  readonly bulkCounts: readonly number[];
  readonly transports: readonly Transport[];
  readonly warmMs: number;
  readonly durationMs: number;
  readonly tailMs: number;
  readonly repeats: number;
  /** Warm-up passes over a few points (64 KiB, N = 4, every transport and policy), discarded. */
  readonly warmups: number;
  readonly log: (line: string) => void;
}

export function defaultHolOptions(smoke: boolean): HolOptions {
  return {
    smoke,
    name: 'hol',
    frames: smoke ? [16 * 1024, MiB] : FRAME_SIZES,
    policies: POLICIES,
    bulkCounts: smoke ? [1, 4] : BULK_COUNTS,
    transports: TRANSPORTS,
    warmMs: smoke ? 50 : 150,
    durationMs: smoke ? 200 : 1000,
    tailMs: smoke ? 300 : 1000,
    repeats: smoke ? 1 : 3,
    warmups: smoke ? 0 : 1,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

/** One configuration of the sweep. */
export interface Point {
  readonly key: string;
  readonly transport: Transport;
  /** The framewire bulk connection's policy ('round-robin' for the baselines). */
  readonly policy: Policy;
  /** 0 for http2 (framewire's setting does not apply). */
  readonly maxFramePayload: number;
  readonly bulkStreams: number;
}

export function sweep(o: HolOptions): Point[] {
  const out: Point[] = [];
  const add = (transport: Transport, policy: Policy, maxFramePayload: number, bulkStreams: number): void => {
    const key = transport === 'http2' ? `http2/n${bulkStreams}` : `${transport}/${transport === 'framewire' ? `${policy}/` : ''}${formatSize(maxFramePayload).replace(' ', '')}/n${bulkStreams}`;
    out.push({ key, transport, policy, maxFramePayload, bulkStreams });
  };
  for (const n of o.bulkCounts) {
    for (const frame of o.frames) {
      if (o.transports.includes('framewire')) for (const policy of o.policies) add('framewire', policy, frame, n);
      if (o.transports.includes('tcp-separate')) add('tcp-separate', 'round-robin', frame, n);
    }
    if (o.transports.includes('http2')) add('http2', 'round-robin', 0, n);
  }
  return out;
}

// ---- child processes ---------------------------------------------------------------------------

class Child {
  readonly #proc: ChildProcess;
  readonly #name: string;
  readonly #pending = new Map<number, { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  readonly #first: Promise<ChildMessage>;
  #nextId = 1;

  constructor(script: string) {
    this.#name = script;
    this.#proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(HERE, script)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#first = new Promise((resolve, reject) => {
      this.#proc.once('message', (m) => {
        resolve(m as ChildMessage);
      });
      this.#proc.once('exit', (code) => {
        reject(new Error(`${script} exited with ${code}`));
      });
    });
    this.#proc.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (!('id' in m)) return;
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.type === 'error') p.reject(new Error(m.message));
      else p.resolve(m);
    });
    this.#proc.on('error', () => undefined);
    this.#proc.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${script} exited with ${code}`));
      this.#pending.clear();
    });
  }

  started(): Promise<ChildMessage> {
    return this.#first;
  }

  /** Sends a command and waits for its answer, at most `timeoutMs`. */
  request(m: { cmd: 'framewire-port'; maxFramePayload: number } | { cmd: 'run'; spec: PointSpec }, timeoutMs: number): Promise<ChildMessage> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (!this.#proc.connected) {
        reject(new Error(`${this.#name}: the child process is gone`));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.#name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = <T>(f: (v: T) => void) => (v: T): void => {
        clearTimeout(timer);
        f(v);
      };
      this.#pending.set(id, { resolve: done(resolve), reject: done(reject) });
      this.#proc.send({ ...m, id } satisfies ParentMessage);
    });
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || !this.#proc.connected) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    this.#proc.send({ cmd: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#proc.kill(), 3000);
    await exited;
    clearTimeout(timer);
  }
}

class Processes {
  server!: Child;
  client!: Child;
  tcpPort = 0;
  http2Port = 0;
  readonly #framewirePorts = new Map<number, number>();

  async start(): Promise<void> {
    this.server = new Child('server.ts');
    this.client = new Child('client.ts');
    const [s] = await Promise.all([this.server.started(), this.client.started()]);
    if (s.type !== 'started' || s.ports === undefined) throw new Error('server: unexpected first message');
    this.tcpPort = s.ports.tcp;
    this.http2Port = s.ports.http2;
    this.#framewirePorts.clear();
  }

  async framewirePort(maxFramePayload: number): Promise<number> {
    let port = this.#framewirePorts.get(maxFramePayload);
    if (port === undefined) {
      const m = await this.server.request({ cmd: 'framewire-port', maxFramePayload }, 10_000);
      if (m.type !== 'port') throw new Error('server: unexpected answer');
      port = m.port;
      this.#framewirePorts.set(maxFramePayload, port);
    }
    return port;
  }

  async stop(): Promise<void> {
    await Promise.all([this.server.stop(), this.client.stop()]);
  }
}

// ---- results -----------------------------------------------------------------------------------

/** Medians over the repeats of one point. */
export interface PointSummary extends Point {
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  /** (max − min) / median of p99 over the repeats. */
  readonly p99Spread: number;
  /** Bulk payload MB/s (10^6 bytes) the server received while requests were measured. */
  readonly bulkMBps: number;
  readonly meanBulkFrame: number;
  readonly requests: number;
  readonly censored: number;
  readonly repeats: number;
  readonly error?: string;
}

interface Collected {
  readonly point: Point;
  readonly samples: PointResult[];
  error?: string;
}

function summarizePoint(c: Collected): PointSummary {
  const med = (f: (r: PointResult) => number): number => summarize(c.samples.map(f)).median;
  return {
    ...c.point,
    p50Us: med((r) => r.latency.p50Us),
    p90Us: med((r) => r.latency.p90Us),
    p99Us: med((r) => r.latency.p99Us),
    p999Us: med((r) => r.latency.p999Us),
    maxUs: med((r) => r.latency.maxUs),
    p99Spread: summarize(c.samples.map((r) => r.latency.p99Us)).spread,
    bulkMBps: med((r) => r.bulkBytes / r.bulkSeconds / 1e6),
    meanBulkFrame: med((r) => r.meanBulkFrame),
    requests: med((r) => r.latency.count),
    censored: c.samples.reduce((a, r) => a + r.censored, 0),
    repeats: c.samples.length,
    ...(c.error === undefined ? {} : { error: c.error }),
  };
}

/** Microseconds as milliseconds, three significant digits. */
export const ms = (us: number): string => (Number.isFinite(us) ? formatNumber(us / 1000) : 'n/a');
/** A percentile that a censored request may have cut short is a lower bound. */
const atLeast = (s: PointSummary, us: number): string => `${s.censored > 0 ? '≥' : ''}${ms(us)}`;
const mb = (v: number): string => (Number.isFinite(v) ? formatNumber(v) : 'n/a');
const frameLabel = (bytes: number): string => (bytes === 0 ? '—' : formatSize(bytes));
export const seriesName = (p: Point): string => (p.transport === 'framewire' ? p.policy : p.transport === 'tcp-separate' ? 'separate TCP' : 'http2');

function markdown(o: HolOptions, summaries: readonly PointSummary[], machine: MachineInfo, loadAtEnd: readonly number[]): string {
  const find = (t: Transport, policy: Policy | undefined, frame: number, n: number): PointSummary | undefined =>
    summaries.find((s) => s.transport === t && (policy === undefined || s.policy === policy) && (t === 'http2' || s.maxFramePayload === frame) && s.bulkStreams === n);
  const cell = (s: PointSummary | undefined, f: (s: PointSummary) => string): string => (s === undefined ? '' : s.error !== undefined && s.repeats === 0 ? 'failed' : f(s));
  const sections: string[] = [];
  const header = `## framewire head-of-line study\n\n${describeMachine(machine)}; load at end ${loadAtEnd.join('/')}. Median of ${o.repeats} repeat(s) after ${o.warmups} warm-up pass(es); each point: ${o.warmMs} ms of bulk alone, then ${o.durationMs} ms of 64-byte request → echo round trips, one in flight. Latencies in ms (≥: a request was still unanswered when the point gave up, so the figure is a lower bound); bulk MB/s = 10^6 payload bytes/s received by the server meanwhile.`;
  sections.push(header);
  for (const n of o.bulkCounts) {
    const rows = o.frames.map((frame) => [
      formatSize(frame),
      ...o.policies.map((p) => cell(find('framewire', p, frame, n), (s) => atLeast(s, s.p99Us))),
      cell(find('tcp-separate', undefined, frame, n), (s) => atLeast(s, s.p99Us)),
      cell(find('http2', undefined, frame, n), (s) => atLeast(s, s.p99Us)),
      ...o.policies.map((p) => cell(find('framewire', p, frame, n), (s) => mb(s.bulkMBps))),
    ]);
    sections.push(
      `### p99 latency (ms) and bulk MB/s with ${n} bulk stream${n === 1 ? '' : 's'}\n\n` +
        markdownTable(['max frame', ...o.policies.map((p) => `p99 ${p}`), 'p99 separate TCP', 'p99 http2 (no frame setting)', ...o.policies.map((p) => `MB/s ${p}`)], rows),
    );
  }
  const full = summaries.map((s) => [
    String(s.bulkStreams),
    seriesName(s),
    frameLabel(s.maxFramePayload),
    cell(s, (x) => ms(x.p50Us)),
    cell(s, (x) => atLeast(x, x.p90Us)),
    cell(s, (x) => atLeast(x, x.p99Us)),
    cell(s, (x) => atLeast(x, x.p999Us)),
    cell(s, (x) => `±${((x.p99Spread / 2) * 100).toFixed(0)}%`),
    cell(s, (x) => mb(x.bulkMBps)),
    cell(s, (x) => (x.meanBulkFrame > 0 ? formatSize(Math.round(x.meanBulkFrame / 1024) * 1024) : '—')),
    cell(s, (x) => formatNumber(x.requests)),
    cell(s, (x) => String(x.censored)),
  ]);
  sections.push(
    `### Every point\n\nmean frame = mean payload of the bulk DATA frames the framewire client sent in the window (frames are also cut by credit and by the 1 MiB writes). censored = requests still unanswered ${o.tailMs} ms after the window closed (counted at the time waited).\n\n` +
      markdownTable(['N', 'interactive over', 'max frame', 'p50', 'p90', 'p99', 'p99.9', 'p99 spread', 'bulk MB/s', 'mean frame', 'requests', 'censored'], full),
  );
  return sections.join('\n\n');
}

export interface HolReport {
  readonly markdown: string;
  readonly path: string;
  readonly charts: readonly string[];
}

export async function runHol(o: HolOptions): Promise<HolReport> {
  const machine = machineInfo();
  const points = sweep(o);
  const collected = new Map<string, Collected>(points.map((p) => [p.key, { point: p, samples: [] }]));
  const procs = new Processes();
  await procs.start();
  const timeout = o.warmMs + o.durationMs + o.tailMs + 20_000;
  const warmupPoints = points.filter((p) => (p.maxFramePayload === 64 * 1024 || p.transport === 'http2') && p.bulkStreams === (o.bulkCounts.includes(4) ? 4 : o.bulkCounts[0]));
  const started = performance.now();
  try {
    for (let rep = -o.warmups; rep < o.repeats; rep++) {
      for (const p of rep < 0 ? warmupPoints : points) {
        const c = collected.get(p.key)!;
        try {
          const spec: PointSpec = {
            transport: p.transport,
            policy: p.policy,
            maxFramePayload: p.maxFramePayload === 0 ? 64 * 1024 : p.maxFramePayload,
            bulkStreams: p.bulkStreams,
            bulkWriteSize: MiB,
            messageSize: 64,
            warmMs: o.warmMs,
            durationMs: o.durationMs,
            tailMs: o.tailMs,
            ports: { framewire: p.transport === 'http2' ? 0 : await procs.framewirePort(p.maxFramePayload), tcp: procs.tcpPort, http2: procs.http2Port },
          };
          const m = await procs.client.request({ cmd: 'run', spec }, timeout);
          if (m.type !== 'result') throw new Error('client: unexpected answer');
          const r = m.result;
          if (rep >= 0) c.samples.push(r);
          o.log(
            `  ${rep < 0 ? 'warm-up' : `#${rep + 1}`} ${p.key.padEnd(34)} p50 ${ms(r.latency.p50Us).padStart(6)} p99 ${ms(r.latency.p99Us).padStart(7)} p99.9 ${ms(r.latency.p999Us).padStart(7)} ms (${r.latency.count}${r.censored > 0 ? `, ${r.censored} censored` : ''}), bulk ${mb(r.bulkBytes / r.bulkSeconds / 1e6)} MB/s` +
              (r.meanBulkFrame > 0 ? `, mean frame ${formatNumber(r.meanBulkFrame / 1024)} KiB` : ''),
          );
        } catch (error) {
          c.error = error instanceof Error ? error.message : String(error);
          o.log(`  ${p.key}: FAILED ${c.error}`);
          // The children may be in any state: start afresh.
          await procs.stop();
          await procs.start();
        }
      }
    }
  } finally {
    await procs.stop();
  }
  const elapsedS = (performance.now() - started) / 1000;
  const loadAtEnd = machineInfo().loadavg;
  const summaries = [...collected.values()].map(summarizePoint);
  const md = markdown(o, summaries, machine, loadAtEnd);
  const json = {
    machine: { ...machine, loadavgAtEnd: loadAtEnd },
    options: { smoke: o.smoke, name: o.name, frames: o.frames, policies: o.policies, bulkCounts: o.bulkCounts, transports: o.transports, warmMs: o.warmMs, durationMs: o.durationMs, tailMs: o.tailMs, repeats: o.repeats, warmups: o.warmups, bulkWriteSize: MiB, messageSize: 64 },
    elapsedSeconds: elapsedS,
    points: summaries.map((s) => ({ ...s, samples: collected.get(s.key)!.samples })),
  };
  const path = writeResults(o.name, o.smoke, json);
  return { markdown: `${md}\n\nSweep took ${elapsedS.toFixed(0)} s.`, path, charts: writeCharts(o, summaries, machine) };
}

function writeCharts(o: HolOptions, summaries: readonly PointSummary[], machine: MachineInfo): string[] {
  // Smoke charts go to tmp/ (gitignored): the committed charts are never overwritten by a smoke run.
  const chartDir = o.smoke ? join(RESULTS_DIR, '..', '..', 'tmp', 'hol-smoke') : RESULTS_DIR;
  mkdirSync(chartDir, { recursive: true });
  const charts: string[] = [];
  for (const [name, svg] of holCharts(summaries, o, machine)) {
    const file = join(chartDir, `${o.name}-${name}`);
    writeFileSync(file, svg);
    charts.push(file);
  }
  return charts;
}

/** Redraws the charts and the tables of an earlier run from its JSON (after a change to the charts), without measuring. */
export function replotHol(name: string, smoke: boolean): HolReport {
  const path = join(RESULTS_DIR, smoke ? `${name}.tmp.json` : `${name}.json`);
  const saved = JSON.parse(readFileSync(path, 'utf8')) as {
    machine: MachineInfo & { loadavgAtEnd: number[] };
    options: Omit<HolOptions, 'log'>;
    points: PointSummary[];
  };
  const o: HolOptions = { ...saved.options, name, log: () => undefined };
  const md = markdown(o, saved.points, saved.machine, saved.machine.loadavgAtEnd);
  return { markdown: md, path, charts: writeCharts(o, saved.points, saved.machine) };
}

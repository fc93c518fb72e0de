/**
 * The end-to-end benchmark's orchestrator: starts one server and one client process per protocol
 * (node --import tsx, on loopback), runs every case for every protocol in the same run, interleaved
 * repeat by repeat so that machine load drifts hit all protocols alike, and reports medians,
 * spreads and ratios against the baselines as JSON and Markdown.
 *
 * Exported as `runE2E` so the CLI can offer it as `framewire bench`.
 */

import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import * as hdr from 'hdr-histogram-js';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, formatNumber, formatSize, MiB, machineInfo, markdownTable, summarize, writeResults, type Summary } from '../lib/report.ts';
import { PROTOCOLS, type CaseResult, type CaseSpec, type ChildMessage, type CpuSeconds, type ParentMessage, type Protocol } from './common.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const GiB = 2 ** 30;

export interface E2EOptions {
  readonly smoke: boolean;
  /** Bytes of the one-stream bulk case (and of the HOL case's bulk stream); 8 streams carry size/8 each. */
  readonly size: number;
  readonly repeats: number;
  readonly warmups: number;
  readonly messages: number;
  readonly stallMs: number;
  readonly protocols: readonly Protocol[];
  readonly cases: readonly CaseName[];
  /** Directory for --cpu-prof profiles of the framewire processes, if profiling. */
  readonly profileDir: string | undefined;
  /**
   * Pin the server to CPU 0 and the client to CPU 1 (taskset). On a 2-core VM, leaving placement
   * to the scheduler made the baselines swing by up to 3× between runs (both processes on one core,
   * or not); pinned, every protocol gets the same two cores the same way.
   */
  readonly pin: boolean;
  readonly log: (line: string) => void;
}

export const CASE_NAMES = ['bulk1', 'bulk8', 'msgs', 'hol', 'stall'] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export function defaultE2EOptions(smoke: boolean): E2EOptions {
  return {
    smoke,
    size: smoke ? 16 * MiB : GiB,
    repeats: smoke ? 1 : 3,
    warmups: smoke ? 0 : 1,
    messages: smoke ? 20_000 : 4_000_000,
    stallMs: smoke ? 300 : 5000,
    protocols: PROTOCOLS,
    cases: CASE_NAMES,
    profileDir: undefined,
    pin: canPin(),
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Two CPUs and taskset (util-linux) to pin the processes to them. */
export function canPin(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ---- child processes -------------------------------------------------------------------------

class Child {
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #first: Promise<ChildMessage>;

  constructor(script: string, proto: Protocol, execArgv: readonly string[], cpu?: number) {
    this.#proc = fork(join(HERE, script), [proto], { execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (cpu !== undefined && this.#proc.pid !== undefined) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(this.#proc.pid)], { stdio: 'ignore' });
    this.#first = new Promise((resolve, reject) => {
      this.#proc.once('message', (m) => {
        resolve(m as ChildMessage);
      });
      this.#proc.once('exit', (code) => {
        reject(new Error(`${script} ${proto} exited with ${code}`));
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
      for (const p of this.#pending.values()) p.reject(new Error(`${script} ${proto} exited with ${code}`));
      this.#pending.clear();
    });
  }

  /** The child's first message: `listening` (server) or `ready` (client). */
  started(): Promise<ChildMessage> {
    return this.#first;
  }

  request(m: { cmd: 'run'; port: number; spec: CaseSpec } | { cmd: 'cpu-mark' } | { cmd: 'cpu-read' }): Promise<ChildMessage> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (!this.#proc.connected) {
        reject(new Error('the child process is gone'));
        return;
      }
      this.#pending.set(id, { resolve, reject });
      this.#proc.send({ ...m, id }, (error) => {
        if (error === null) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || !this.#proc.connected) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    this.#proc.send({ cmd: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#proc.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

interface Pair {
  readonly server: Child;
  readonly client: Child;
  readonly port: number;
}

async function startPair(proto: Protocol, o: E2EOptions): Promise<Pair> {
  const prof = (role: string): string[] =>
    o.profileDir !== undefined && proto === 'framewire' ? ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, role)}`] : process.env['FW_TRACE_GC'] === '1' ? ['--trace-gc'] : [];
  const pin = o.pin;
  const server = new Child('server.ts', proto, prof('server'), pin ? 0 : undefined);
  const client = new Child('client.ts', proto, prof('client'), pin ? 1 : undefined);
  const [listening] = await Promise.all([server.started(), client.started()]);
  if (listening.type !== 'listening') throw new Error(`server ${proto}: unexpected ${listening.type}`);
  return { server, client, port: listening.port };
}

interface Sample extends CaseResult {
  readonly serverCpu: CpuSeconds;
}

async function runOnce(pair: Pair, spec: CaseSpec): Promise<Sample> {
  await pair.server.request({ cmd: 'cpu-mark' });
  const r = await pair.client.request({ cmd: 'run', port: pair.port, spec });
  const c = await pair.server.request({ cmd: 'cpu-read' });
  if (r.type !== 'result' || c.type !== 'cpu') throw new Error('unexpected reply from a child');
  return { ...r.result, serverCpu: c.cpu };
}

// ---- cases -----------------------------------------------------------------------------------

interface Variant {
  readonly key: string;
  readonly caseName: CaseName;
  readonly proto: Protocol;
  readonly spec: CaseSpec;
  /** Runs against a freshly started server (memory case: RSS must not carry earlier runs). */
  readonly freshServer: boolean;
}

function variants(o: E2EOptions): Variant[] {
  const out: Variant[] = [];
  const write = 64 * 1024;
  for (const caseName of o.cases) {
    for (const proto of o.protocols) {
      const add = (key: string, spec: CaseSpec, freshServer = false): void => {
        out.push({ key, caseName, proto, spec, freshServer });
      };
      switch (caseName) {
        case 'bulk1':
          add(`bulk1/${proto}`, { case: 'bulk', streams: 1, bytesPerStream: o.size, writeSize: write });
          break;
        case 'bulk8':
          add(`bulk8/${proto}`, { case: 'bulk', streams: 8, bytesPerStream: Math.floor(o.size / 8 / write) * write, writeSize: write });
          break;
        case 'msgs':
          add(`msgs/${proto}`, { case: 'msgs', messages: o.messages, messageSize: 64, api: 'per-message' });
          // The same messages through the high-rate API: send()/drained() and batches(), no promise per message.
          if (proto === 'framewire') add('msgs/framewire-batched', { case: 'msgs', messages: o.messages, messageSize: 64, api: 'batched' });
          break;
        case 'hol': {
          const base = { case: 'hol', bulkBytes: o.size, writeSize: write, pingSize: 64, minPings: o.smoke ? 20 : 200 } as const;
          if (proto !== 'raw') add(`hol-same/${proto}`, { ...base, separate: false });
          add(`hol-separate/${proto}`, { ...base, separate: true });
          break;
        }
        case 'stall': {
          const prefix = o.smoke ? 4 * MiB : 32 * MiB;
          add(`stall/${proto}`, { case: 'stall', bytes: o.smoke ? 16 * MiB : 256 * MiB, writeSize: write, prefix, stallMs: o.stallMs }, true);
          break;
        }
      }
    }
  }
  return out;
}

// ---- reporting -------------------------------------------------------------------------------

interface VariantResult {
  readonly key: string;
  readonly caseName: CaseName;
  readonly proto: Protocol;
  readonly spec: CaseSpec;
  readonly samples: Sample[];
  error?: string;
}

const fmtMB = (bytesPerSec: number): string => formatNumber(bytesPerSec / 1e6);
const pct = (s: Summary): string => `±${((s.spread / 2) * 100).toFixed(0)}%`;

function stat(v: VariantResult | undefined, f: (s: Sample) => number): Summary {
  return summarize(v === undefined ? [] : v.samples.map(f));
}

/** A percentile of the ping round trips of all repeats together (hdr-histogram, µs). */
function pooled(v: VariantResult | undefined, percentile: number): number {
  if (v === undefined) return NaN;
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (const s of v.samples) for (const us of s.pings?.samplesUs ?? []) h.recordValue(us);
  const value = h.totalCount > 0 ? h.getValueAtPercentile(percentile) : NaN;
  h.destroy();
  return value;
}

const mbps = (s: Sample): number => s.bytes / s.seconds;
const msgps = (s: Sample): number => (s.messages ?? 0) / s.seconds;
const bulkMbps = (s: Sample): number => s.bytes / (s.bulkSeconds ?? s.seconds);
const perGiB = (cpu: CpuSeconds, bytes: number): number => cpu.total / (bytes / GiB);

export interface E2EReport {
  readonly json: Record<string, unknown>;
  readonly markdown: string;
  readonly path: string;
}

function report(o: E2EOptions, results: VariantResult[], loadAtStart: readonly number[]): E2EReport {
  const by = new Map(results.map((r) => [r.key, r]));
  const get = (key: string): VariantResult | undefined => {
    const v = by.get(key);
    return v !== undefined && v.samples.length > 0 ? v : undefined;
  };
  const ratio = (a: number, b: number): number => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
  const r2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
  const unavailable = (key: string): string => (by.get(key)?.error !== undefined ? 'unavailable' : 'n/a');
  const sections: string[] = [];
  const summary: Record<string, unknown> = {};

  // Throughput.
  const tpRows: string[][] = [];
  for (const c of ['bulk1', 'bulk8'] as const) {
    if (!o.cases.includes(c)) continue;
    const raw = stat(get(`${c}/raw`), mbps).median;
    const h2 = stat(get(`${c}/http2`), mbps).median;
    for (const proto of o.protocols) {
      const v = get(`${c}/${proto}`);
      if (v === undefined) {
        tpRows.push([c, proto, unavailable(`${c}/${proto}`), '', '', '', '', '']);
        continue;
      }
      const s = stat(v, mbps);
      const cpuC = stat(v, (x) => perGiB(x.clientCpu, x.bytes)).median;
      const cpuS = stat(v, (x) => perGiB(x.serverCpu, x.bytes)).median;
      summary[`${c}/${proto}`] = { mbPerSec: s.median / 1e6, spread: s.spread, vsRaw: ratio(s.median, raw), vsHttp2: ratio(s.median, h2), clientCpuSecPerGiB: cpuC, serverCpuSecPerGiB: cpuS };
      tpRows.push([c, proto, fmtMB(s.median), pct(s), r2(ratio(s.median, raw)), r2(ratio(s.median, h2)), r2(cpuC), r2(cpuS)]);
    }
  }
  if (tpRows.length > 0) {
    sections.push(`### Throughput (${formatSize(o.size)} in 64 KiB writes; bulk8 = 8 streams × ${formatSize(Math.floor(o.size / 8 / 65536) * 65536)})\n\n${markdownTable(['case', 'protocol', 'MB/s', 'spread', '× raw', '× http2', 'client CPU s/GiB', 'server CPU s/GiB'], tpRows)}`);
  }

  // 64-byte messages.
  if (o.cases.includes('msgs')) {
    const raw = stat(get('msgs/raw'), msgps).median;
    const names = o.protocols.flatMap((proto) => (proto === 'framewire' ? ['framewire', 'framewire-batched'] : [proto]));
    const rows = names.map((name) => {
      const v = get(`msgs/${name}`);
      if (v === undefined) return [name, unavailable(`msgs/${name}`), '', '', ''];
      const s = stat(v, msgps);
      const cpuS = stat(v, (x) => x.serverCpu.total / (x.messages ?? 1) * 1e9).median;
      summary[`msgs/${name}`] = { messagesPerSec: s.median, spread: s.spread, vsRawBatched: ratio(s.median, raw), serverCpuNsPerMessage: cpuS };
      return [name, formatNumber(s.median), pct(s), r2(ratio(s.median, raw)), formatNumber(cpuS)];
    });
    sections.push(`### 64-byte messages on one stream (${formatNumber(o.messages)} messages; raw and yamux = 4-byte length prefix, batched into 64 KiB writes; http2 = one write per prefixed message; framewire = one write() per message, read with for-await per message; framewire-batched = stream.send()/drained() and stream.batches(): no promise per message)\n\n${markdownTable(['protocol', 'messages/s', 'spread', '× raw batched', 'server CPU ns/msg'], rows)}`);
  }

  // Head-of-line blocking.
  if (o.cases.includes('hol')) {
    const rawBulk = stat(get('bulk1/raw'), mbps).median;
    const rows: string[][] = [];
    for (const proto of o.protocols) {
      const same = get(`hol-same/${proto}`);
      const sep = get(`hol-separate/${proto}`);
      // Percentiles over the pings of all repeats pooled: a p99 of one run is its ~6th-worst ping
      // of ~600, which one scheduler hiccup on a shared machine decides.
      const p99Same = pooled(same, 99);
      const p99Sep = pooled(sep, 99);
      const penalty = ratio(p99Same, p99Sep);
      for (const [mode, v] of [['same connection', same], ['separate connection', sep]] as const) {
        if (v === undefined) {
          if (proto !== 'raw' || mode === 'separate connection') rows.push([proto, mode, unavailable(`hol-${mode.startsWith('same') ? 'same' : 'separate'}/${proto}`), '', '', '', '', '']);
          continue;
        }
        const p50 = pooled(v, 50);
        const p99 = pooled(v, 99);
        const p99PerRun = v.samples.map((x) => x.pings!.p99Us);
        const bulk = stat(v, bulkMbps).median;
        const pings = stat(v, (x) => x.pings!.count).median;
        summary[`hol-${mode.startsWith('same') ? 'same' : 'separate'}/${proto}`] = { p50Us: p50, p99Us: p99, p99UsPerRun: p99PerRun, pings, bulkMbPerSec: bulk / 1e6, bulkVsRawBulk1: ratio(bulk, rawBulk), ...(mode.startsWith('same') ? { holPenalty: penalty } : {}) };
        rows.push([proto, mode, formatNumber(p50), formatNumber(p99), mode.startsWith('same') ? r2(penalty) : '', fmtMB(bulk), r2(ratio(bulk, rawBulk)), formatNumber(pings)]);
      }
    }
    sections.push(`### Head-of-line: 64-byte ping round trips while a bulk stream sends ${formatSize(o.size)}\n\nPenalty = p99 on the bulk stream's connection / p99 over a separate connection of the same protocol under the same load. Percentiles over the pings of all ${o.repeats} repeats pooled; pings and bulk MB/s are medians per run.\n\n${markdownTable(['protocol', 'ping over', 'p50 µs', 'p99 µs', 'HOL penalty', 'bulk MB/s', 'bulk × raw', 'pings'], rows)}`);
  }

  // Memory under a stalled reader.
  if (o.cases.includes('stall')) {
    const rows = o.protocols.map((proto) => {
      const v = get(`stall/${proto}`);
      if (v === undefined) return [proto, unavailable(`stall/${proto}`), '', '', '', ''];
      const st = (f: (x: NonNullable<Sample['stall']>) => number | undefined): number => stat(v, (x) => (x.stall === undefined ? NaN : (f(x.stall) ?? NaN))).median;
      const granted = st((x) => x.grantedBytes);
      const during = st((x) => x.bytesDuringStall);
      const held = st((x) => x.heldBytes);
      const growth = st((x) => x.rssPeak - x.rssAtStallStart);
      const peakOverIdle = st((x) => x.rssPeak - x.rssIdle);
      summary[`stall/${proto}`] = { grantedBytes: granted, bytesDuringStall: during, heldBytes: held, rssGrowthDuringStall: growth, rssPeakOverIdle: peakOverIdle };
      const mib = (n: number): string => (Number.isFinite(n) ? (n / MiB).toFixed(1) : 'n/a');
      return [proto, mib(granted), mib(held), mib(during), mib(growth), mib(peakOverIdle)];
    });
    sections.push(`### Receiver memory while the reader stalls ${o.stallMs} ms under a bulk sender (MiB)\n\n${markdownTable(['protocol', 'credit granted', 'held by protocol', 'received during stall', 'RSS growth in stall', 'peak RSS − idle RSS'], rows)}`);
  }

  // Targets (framewire).
  const s = (k: string): Record<string, number> | undefined => summary[k] as Record<string, number> | undefined;
  const targets: { name: string; value: number; target: string; met: boolean }[] = [];
  const t = (name: string, value: number | undefined, target: string, ok: (v: number) => boolean): void => {
    if (value === undefined || !Number.isFinite(value)) return;
    targets.push({ name, value, target, met: ok(value) });
  };
  t('bulk1 framewire / raw', s('bulk1/framewire')?.['vsRaw'], '>= 0.75', (v) => v >= 0.75);
  t('bulk8 framewire / raw', s('bulk8/framewire')?.['vsRaw'], '>= 0.70', (v) => v >= 0.7);
  t('bulk1 framewire / http2', s('bulk1/framewire')?.['vsHttp2'], '> 1', (v) => v > 1);
  t('bulk8 framewire / http2', s('bulk8/framewire')?.['vsHttp2'], '> 1', (v) => v > 1);
  t('bulk1 framewire / yamux (report)', ratio(s('bulk1/framewire')?.['mbPerSec'] ?? NaN, s('bulk1/yamux')?.['mbPerSec'] ?? NaN), 'report', () => true);
  t('bulk8 framewire / yamux (report)', ratio(s('bulk8/framewire')?.['mbPerSec'] ?? NaN, s('bulk8/yamux')?.['mbPerSec'] ?? NaN), 'report', () => true);
  t('msgs framewire / raw batched', s('msgs/framewire')?.['vsRawBatched'], '>= 0.35', (v) => v >= 0.35);
  t('msgs framewire / http2', ratio(s('msgs/framewire')?.['messagesPerSec'] ?? NaN, s('msgs/http2')?.['messagesPerSec'] ?? NaN), '> 1', (v) => v > 1);
  t('msgs framewire-batched / raw batched', s('msgs/framewire-batched')?.['vsRawBatched'], '>= 0.35', (v) => v >= 0.35);
  t('msgs framewire-batched / http2', ratio(s('msgs/framewire-batched')?.['messagesPerSec'] ?? NaN, s('msgs/http2')?.['messagesPerSec'] ?? NaN), '> 1', (v) => v > 1);
  t('HOL penalty framewire (p99 ratio)', s('hol-same/framewire')?.['holPenalty'], '<= 1.5', (v) => v <= 1.5);
  t('HOL bulk framewire / raw bulk1', s('hol-same/framewire')?.['bulkVsRawBulk1'], '>= 0.70', (v) => v >= 0.7);
  const stallFw = s('stall/framewire');
  if (stallFw !== undefined) {
    // "Within 2x of the credit granted plus a fixed overhead": 16 MiB of fixed overhead allowed.
    const limit = 2 * stallFw['grantedBytes']! + 16 * MiB;
    t('stall framewire RSS growth / (2×granted + 16 MiB)', stallFw['rssGrowthDuringStall']! / limit, '<= 1', (v) => v <= 1);
  }
  if (targets.length > 0) {
    sections.push(`### Targets (framewire)\n\n${markdownTable(['target', 'measured', 'goal', 'met'], targets.map((x) => [x.name, r2(x.value), x.target, x.target === 'report' ? '—' : x.met ? 'yes' : 'NO']))}`);
  }

  const machine = machineInfo();
  const header = `## framewire end-to-end benchmark\n\n${describeMachine({ ...machine, loadavg: loadAtStart })}; load at end ${machine.loadavg.join('/')}. Medians of ${o.repeats} repeats after ${o.warmups} warm-up; spread = ±(max−min)/2 of the median. Client and server in separate processes on loopback${o.pin ? ', pinned to CPUs 0 (server) and 1 (client)' : ', placed by the OS'}. MB/s = 10^6 payload bytes per second.`;
  const markdown = [header, ...sections].join('\n\n');
  const json = {
    machine: { ...machine, loadavgAtStart: loadAtStart },
    options: { smoke: o.smoke, size: o.size, repeats: o.repeats, warmups: o.warmups, messages: o.messages, stallMs: o.stallMs, protocols: o.protocols, cases: o.cases, pinned: o.pin },
    summary,
    targets,
    // Raw ping samples are summarised above (pooled percentiles), not stored.
    variants: results.map((r) => ({ key: r.key, spec: r.spec, error: r.error, samples: r.samples.map((x) => (x.pings === undefined ? x : { ...x, pings: { ...x.pings, samplesUs: undefined } })) })),
  };
  const path = writeResults('e2e', o.smoke, json);
  return { json, markdown, path };
}

// ---- main ------------------------------------------------------------------------------------

export async function runE2E(o: E2EOptions): Promise<E2EReport> {
  const loadAtStart = machineInfo().loadavg;
  if (o.profileDir !== undefined) mkdirSync(o.profileDir, { recursive: true });
  const pairs = new Map<Protocol, Pair>();
  const failed = new Map<Protocol, string>();
  for (const proto of o.protocols) {
    try {
      pairs.set(proto, await startPair(proto, o));
    } catch (error) {
      failed.set(proto, String(error));
      o.log(`  ${proto}: unavailable (${String(error)})`);
    }
  }
  const all = variants(o);
  const results = new Map<string, VariantResult>();
  for (const v of all) {
    const r: VariantResult = { key: v.key, caseName: v.caseName, proto: v.proto, spec: v.spec, samples: [] };
    const error = failed.get(v.proto);
    if (error !== undefined) r.error = error;
    results.set(v.key, r);
  }
  try {
    for (const caseName of o.cases) {
      const group = all.filter((v) => v.caseName === caseName);
      for (let rep = -o.warmups; rep < o.repeats; rep++) {
        for (const v of group) {
          const res = results.get(v.key)!;
          const pair = pairs.get(v.proto);
          if (pair === undefined || res.error !== undefined) continue;
          let fresh: Pair | undefined;
          try {
            let sample: Sample;
            if (v.freshServer) {
              fresh = await startPair(v.proto, o);
              sample = await runOnce(fresh, v.spec);
            } else {
              sample = await runOnce(pair, v.spec);
            }
            if (rep >= 0) res.samples.push(sample);
            o.log(`  ${rep < 0 ? 'warm-up' : `#${rep + 1}`} ${v.key.padEnd(24)} ${describeSample(v.spec, sample)}`);
          } catch (error) {
            res.error = error instanceof Error ? error.message : String(error);
            o.log(`  ${v.key}: FAILED ${res.error}`);
            // A failed run may have left the processes in any state: start the next case afresh.
            await Promise.all([pair.server.stop(), pair.client.stop()]);
            pairs.set(v.proto, await startPair(v.proto, o));
          } finally {
            if (fresh !== undefined) await Promise.all([fresh.server.stop(), fresh.client.stop()]);
          }
        }
      }
    }
  } finally {
    await Promise.all([...pairs.values()].flatMap((p) => [p.server.stop(), p.client.stop()]));
  }
  return report(o, [...results.values()], loadAtStart);
}

function describeSample(spec: CaseSpec, s: Sample): string {
  const base = `${(s.seconds * 1000).toFixed(0)} ms, cpu client ${s.clientCpu.total.toFixed(2)} s server ${s.serverCpu.total.toFixed(2)} s`;
  switch (spec.case) {
    case 'bulk':
      return `${fmtMB(mbps(s))} MB/s, ${base}`;
    case 'msgs':
      return `${formatNumber(msgps(s))} msg/s, ${base}`;
    case 'hol':
      return `ping p50 ${s.pings!.p50Us} µs p99 ${s.pings!.p99Us} µs (${s.pings!.count}), bulk ${fmtMB(bulkMbps(s))} MB/s`;
    case 'stall': {
      const st = s.stall;
      if (st === undefined) return base;
      return `during stall ${(st.bytesDuringStall / MiB).toFixed(1)} MiB, held ${((st.heldBytes ?? NaN) / MiB).toFixed(1)} MiB, granted ${((st.grantedBytes ?? NaN) / MiB).toFixed(1)} MiB, RSS +${((st.rssPeak - st.rssAtStallStart) / MiB).toFixed(1)} MiB`;
    }
  }
}

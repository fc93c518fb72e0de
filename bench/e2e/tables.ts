/**
 * The end-to-end benchmark's report: one Markdown table per case and the targets of issue 20, all
 * ratios taken repeat by repeat (ratios.ts) against the better raw node:net variant of the same
 * case, plus the JSON summary written to bench/results/e2e.json.
 */

import * as hdr from 'hdr-histogram-js';
import { formatNumber, formatSize, MiB, markdownTable, summarize, type Summary } from '../lib/report.ts';
import type { Sample } from './children.ts';
import { RAW_PROTOCOLS, type CaseSpec, type Contender, type CpuSeconds } from './common.ts';
import { formatRatio, NO_RATIO, pairedRatio, summarizeRatios, type PerRepeat, type RatioSummary } from './ratios.ts';

const GiB = 2 ** 30;

export const CASE_NAMES = ['bulk1', 'bulk8', 'msgs', 'hol', 'stall'] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export interface VariantResult {
  readonly key: string;
  readonly caseName: CaseName;
  readonly contender: Contender;
  readonly spec: CaseSpec;
  /** Indexed by repeat; a hole where that repeat failed. */
  readonly samples: (Sample | undefined)[];
  error?: string;
}

export interface ReportInput {
  readonly size: number;
  readonly messages: number;
  readonly repeats: number;
  readonly stallMs: number;
  readonly cases: readonly CaseName[];
  readonly contenders: readonly Contender[];
  readonly results: readonly VariantResult[];
}

export interface TargetRow {
  readonly name: string;
  readonly ratio: RatioSummary;
  readonly goal: string;
  /** Undefined for figures reported without a goal. */
  readonly met: boolean | undefined;
}

export interface Tables {
  readonly sections: string[];
  readonly summary: Record<string, unknown>;
  readonly targets: TargetRow[];
}

const mbps = (s: Sample): number => s.bytes / s.seconds;
const msgps = (s: Sample): number => (s.messages ?? 0) / s.seconds;
const bulkMbps = (s: Sample): number => s.bytes / (s.bulkSeconds ?? s.seconds);
const perGiB = (cpu: CpuSeconds, bytes: number): number => cpu.total / (bytes / GiB);
const nsPerMessage = (cpu: CpuSeconds, s: Sample): number => (cpu.total / (s.messages ?? 1)) * 1e9;
const fmtMB = (bytesPerSec: number): string => formatNumber(bytesPerSec / 1e6);
const pct = (s: Summary): string => (Number.isFinite(s.spread) ? `±${((s.spread / 2) * 100).toFixed(0)}%` : '');
const r2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

/** The labels the tables use, so a reader need not know the ids. */
const LABELS: Readonly<Record<string, string>> = {
  'raw-64k': 'raw node:net, 64 KiB writes',
  'raw-batched': 'raw node:net, corked writev ≤ 1 MiB',
  iperf3: 'iperf3 (kernel TCP limit)',
  http2: 'node:http2',
  yamux: 'yamux',
  framewire: 'framewire',
  'framewire-quic': 'framewire over QUIC',
  'framewire-batched': 'framewire send()/batches()',
};
const label = (name: string): string => LABELS[name] ?? name;

/** Percentile of the ping round trips of all repeats together (hdr-histogram, µs). */
function pooled(v: VariantResult | undefined, percentile: number): number {
  if (v === undefined) return NaN;
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (const s of v.samples) for (const us of s?.pings?.samplesUs ?? []) h.recordValue(us);
  const value = h.totalCount > 0 ? h.getValueAtPercentile(percentile) : NaN;
  h.destroy();
  return value;
}

export function buildTables(input: ReportInput): Tables {
  const by = new Map(input.results.map((r) => [r.key, r]));
  const get = (key: string): VariantResult | undefined => {
    const v = by.get(key);
    return v !== undefined && v.samples.some((s) => s !== undefined) ? v : undefined;
  };
  const per = (v: VariantResult | undefined, f: (s: Sample) => number): PerRepeat => (v === undefined ? [] : v.samples.map((s) => (s === undefined ? undefined : f(s))));
  const stat = (v: VariantResult | undefined, f: (s: Sample) => number): Summary => summarize(per(v, f).filter((x): x is number => x !== undefined));
  const missing = (key: string): string => (by.get(key)?.error !== undefined ? `unavailable: ${by.get(key)!.error!.split('\n')[0]!.slice(0, 60)}` : 'n/a');
  /** The raw variant of a case with the higher median of `f`: the baseline every ratio is taken against. */
  const bestRaw = (prefix: string, f: (s: Sample) => number): VariantResult | undefined => {
    let best: { v: VariantResult; m: number } | undefined;
    for (const raw of RAW_PROTOCOLS) {
      const v = get(`${prefix}/${raw}`);
      const m = stat(v, f).median;
      if (v !== undefined && Number.isFinite(m) && (best === undefined || m > best.m)) best = { v, m };
    }
    return best?.v;
  };
  const ratio = (a: VariantResult | undefined, b: VariantResult | undefined, f: (s: Sample) => number): RatioSummary =>
    a === undefined || b === undefined ? NO_RATIO : pairedRatio(per(a, f), per(b, f));

  const sections: string[] = [];
  const summary: Record<string, unknown> = {};
  const targets: TargetRow[] = [];
  const target = (name: string, r: RatioSummary, goal: string, ok: ((v: number) => boolean) | undefined): void => {
    if (!Number.isFinite(r.median)) return;
    targets.push({ name, ratio: r, goal, met: ok === undefined ? undefined : ok(r.median) });
  };
  const atLeast = (x: number) => (v: number): boolean => v >= x;
  const above = (x: number) => (v: number): boolean => v > x;
  const atMost = (x: number) => (v: number): boolean => v <= x;

  // Throughput: MB/s beside the CPU each side pays per GiB.
  const tpRows: string[][] = [];
  for (const c of ['bulk1', 'bulk8'] as const) {
    if (!input.cases.includes(c)) continue;
    const best = bestRaw(c, mbps);
    for (const who of input.contenders) {
      const key = `${c}/${who}`;
      const v = get(key);
      if (v === undefined) {
        tpRows.push([c, label(who), missing(key), '', '', '', '']);
        continue;
      }
      const s = stat(v, mbps);
      const cpuC = stat(v, (x) => perGiB(x.clientCpu, x.bytes)).median;
      const cpuS = stat(v, (x) => perGiB(x.serverCpu, x.bytes)).median;
      const vsRaw = ratio(v, best, mbps);
      const serverCpuVsRaw = ratio(v, best, (x) => perGiB(x.serverCpu, x.bytes));
      summary[key] = { mbPerSec: s.median / 1e6, spread: s.spread, vsBestRaw: vsRaw, bestRaw: best?.contender, clientCpuSecPerGiB: cpuC, serverCpuSecPerGiB: cpuS, serverCpuVsBestRaw: serverCpuVsRaw };
      tpRows.push([c, `${label(who)}${v === best ? ' (best raw)' : ''}`, fmtMB(s.median), pct(s), formatRatio(vsRaw), r2(cpuC), r2(cpuS)]);
    }
    const fw = get(`${c}/framewire`);
    const goal = c === 'bulk1' ? 0.85 : 0.8;
    target(`${c}: framewire MB/s / best raw`, ratio(fw, best, mbps), `>= ${goal}`, atLeast(goal));
    if (c === 'bulk1') target('bulk1: framewire server CPU/GiB / best raw', ratio(fw, best, (x) => perGiB(x.serverCpu, x.bytes)), '<= 1.3', atMost(1.3));
    target(`${c}: framewire / http2`, ratio(fw, get(`${c}/http2`), mbps), '> 1', above(1));
    target(`${c}: framewire / yamux`, ratio(fw, get(`${c}/yamux`), mbps), '> 1', above(1));
    target(`${c}: framewire over QUIC / best raw (TCP)`, ratio(get(`${c}/framewire-quic`), best, mbps), 'report', undefined);
    target(`${c}: best raw / iperf3 (node's distance from the kernel)`, ratio(best, get(`${c}/iperf3`), mbps), 'report', undefined);
  }
  if (tpRows.length > 0) {
    sections.push(
      `### Throughput (${formatSize(input.size)} in 64 KiB writes; bulk8 = 8 streams × ${formatSize(Math.floor(input.size / 8 / 65536) * 65536)})\n\n` +
        `MB/s = 10^6 payload bytes/s, median of ${input.repeats} repeats (spread ±(max−min)/2). × best raw = median of the per-repeat ratios to the faster raw node:net variant of the case, with min–max. CPU s/GiB = user+system CPU seconds each process spent per GiB moved.\n\n` +
        markdownTable(['case', 'contender', 'MB/s', 'spread', '× best raw (min–max)', 'client CPU s/GiB', 'server CPU s/GiB'], tpRows),
    );
  }

  // 64-byte messages.
  if (input.cases.includes('msgs')) {
    const best = bestRaw('msgs', msgps);
    const names = input.contenders.filter((w) => w !== 'iperf3').flatMap((w) => (w === 'framewire' ? ['framewire', 'framewire-batched'] : [w]));
    const rows = names.map((name) => {
      const key = `msgs/${name}`;
      const v = get(key);
      if (v === undefined) return [label(name), missing(key), '', '', '', ''];
      const s = stat(v, msgps);
      const cpuC = stat(v, (x) => nsPerMessage(x.clientCpu, x)).median;
      const cpuS = stat(v, (x) => nsPerMessage(x.serverCpu, x)).median;
      const vsRaw = ratio(v, best, msgps);
      summary[key] = { messagesPerSec: s.median, spread: s.spread, vsBestRaw: vsRaw, bestRaw: best?.contender, clientCpuNsPerMessage: cpuC, serverCpuNsPerMessage: cpuS };
      return [`${label(name)}${v === best ? ' (best raw)' : ''}`, formatNumber(s.median), pct(s), formatRatio(vsRaw), formatNumber(cpuC), formatNumber(cpuS)];
    });
    sections.push(
      `### 64-byte messages on one stream (${formatNumber(input.messages)} messages)\n\n` +
        'raw and yamux: 4-byte length prefix, records batched into 64 KiB writes (raw-batched: corked into writevs of ≤ 1 MiB); http2: one write per prefixed message; framewire: one `await write()` per message, read with `for await`; framewire send()/batches(): `stream.send()`/`drained()` and `stream.batches()`, no promise per message.\n\n' +
        markdownTable(['contender', 'messages/s', 'spread', '× best raw (min–max)', 'client CPU ns/msg', 'server CPU ns/msg'], rows),
    );
    target('msgs: framewire send()/batches() / best raw', ratio(get('msgs/framewire-batched'), best, msgps), '>= 0.5', atLeast(0.5));
    target('msgs: framewire await write()/for await / http2', ratio(get('msgs/framewire'), get('msgs/http2'), msgps), '> 1', above(1));
    target('msgs: framewire send()/batches() / http2', ratio(get('msgs/framewire-batched'), get('msgs/http2'), msgps), '> 1', above(1));
  }

  // Head-of-line blocking.
  if (input.cases.includes('hol')) {
    const best = bestRaw('hol-separate', bulkMbps);
    const rows: string[][] = [];
    for (const who of input.contenders) {
      if (who === 'iperf3') continue;
      const same = get(`hol-same/${who}`);
      const sep = get(`hol-separate/${who}`);
      const penalty = ratio(same, sep, (x) => x.pings!.p99Us);
      for (const [mode, v] of [['same', same], ['separate', sep]] as const) {
        const key = `hol-${mode}/${who}`;
        if (v === undefined) {
          if (by.has(key)) rows.push([label(who), `${mode} connection`, missing(key), '', '', '', '', '']);
          continue;
        }
        const p50 = pooled(v, 50);
        const p99 = pooled(v, 99);
        const bulk = stat(v, bulkMbps).median;
        const vsRaw = ratio(v, best, bulkMbps);
        const pings = stat(v, (x) => x.pings!.count).median;
        summary[key] = { p50Us: p50, p99Us: p99, p99UsPerRun: per(v, (x) => x.pings!.p99Us), pings, bulkMbPerSec: bulk / 1e6, bulkVsBestRaw: vsRaw, ...(mode === 'same' ? { holPenalty: penalty } : {}) };
        rows.push([label(who), `${mode} connection`, formatNumber(p50), formatNumber(p99), mode === 'same' ? formatRatio(penalty) : '', fmtMB(bulk), formatRatio(vsRaw), formatNumber(pings)]);
      }
    }
    sections.push(
      `### Head-of-line: 64-byte ping round trips while a bulk stream sends ${formatSize(input.size)}\n\n` +
        `HOL penalty = p99 over the bulk stream's connection / p99 over a separate connection of the same protocol under the same load, per repeat (median, min–max). p50/p99 columns pool the pings of all ${input.repeats} repeats. bulk × best raw: per repeat, against the faster raw variant's bulk connection (with its pings on a separate connection).\n\n` +
        markdownTable(['contender', 'ping over', 'p50 µs', 'p99 µs', 'HOL penalty (min–max)', 'bulk MB/s', 'bulk × best raw', 'pings'], rows),
    );
    const fwSame = get('hol-same/framewire');
    target('hol: framewire p99 same / separate connection', ratio(fwSame, get('hol-separate/framewire'), (x) => x.pings!.p99Us), '<= 1.2', atMost(1.2));
    target('hol: framewire bulk MB/s / best raw', ratio(fwSame, best, bulkMbps), '>= 0.8', atLeast(0.8));
  }

  // Memory under a stalled reader.
  if (input.cases.includes('stall')) {
    const rows: string[][] = [];
    for (const who of input.contenders) {
      const key = `stall/${who}`;
      if (!by.has(key)) continue;
      const v = get(key);
      if (v === undefined) {
        rows.push([label(who), missing(key), '', '', '', '']);
        continue;
      }
      const st = (f: (x: NonNullable<Sample['stall']>) => number | undefined): number => stat(v, (x) => (x.stall === undefined ? NaN : (f(x.stall) ?? NaN))).median;
      const granted = st((x) => x.grantedBytes);
      const growth = st((x) => x.rssPeak - x.rssAtStallStart);
      const m = { grantedBytes: granted, bytesDuringStall: st((x) => x.bytesDuringStall), heldBytes: st((x) => x.heldBytes), rssGrowthDuringStall: growth, rssPeakOverIdle: st((x) => x.rssPeak - x.rssIdle) };
      summary[key] = m;
      const mib = (n: number): string => (Number.isFinite(n) ? (n / MiB).toFixed(1) : 'n/a');
      rows.push([label(who), mib(m.grantedBytes), mib(m.heldBytes), mib(m.bytesDuringStall), mib(m.rssGrowthDuringStall), mib(m.rssPeakOverIdle)]);
      if (who === 'framewire') {
        // "Within 2× of the credit granted plus a fixed overhead": 16 MiB of fixed overhead allowed.
        const bound = (x: Sample): number => (x.stall === undefined ? NaN : (x.stall.rssPeak - x.stall.rssAtStallStart) / (2 * (x.stall.grantedBytes ?? NaN) + 16 * MiB));
        target('stall: framewire RSS growth / (2×granted + 16 MiB)', summarizeRatios(per(v, bound).filter((x): x is number => x !== undefined)), '<= 1', atMost(1));
      }
    }
    sections.push(`### Receiver memory while the reader stalls ${input.stallMs} ms under a bulk sender (MiB)\n\n${markdownTable(['contender', 'credit granted', 'held by protocol', 'received during stall', 'RSS growth in stall', 'peak RSS − idle RSS'], rows)}`);
  }

  if (targets.length > 0) {
    const rows = targets.map((t) => [t.name, formatRatio(t.ratio), t.goal, t.met === undefined ? '—' : t.met ? 'yes' : 'NO']);
    sections.push(`### Targets (medians of per-repeat ratios, min–max; "noisy": a ratio strays > ±15 % from its median)\n\n${markdownTable(['target', 'measured (min–max)', 'goal', 'met'], rows)}`);
  }
  return { sections, summary, targets };
}

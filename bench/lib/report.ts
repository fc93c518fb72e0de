/**
 * Shared plumbing for the benchmarks: run a list of cases with benny, describe the machine,
 * print Markdown tables and write JSON results. Every bench/*.bench.ts reuses it.
 *
 * Conventions:
 * - `--smoke` runs every case with a tiny time budget and writes `bench/results/<name>.tmp.json`
 *   (gitignored) instead of the committed `bench/results/<name>.json`.
 * - A case describes what one operation does (`framesPerOp`, `bytesPerOp`), so throughput in
 *   frames/s and MB/s (10^6 bytes) is derived the same way everywhere.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { add, configure, cycle, suite } from 'benny';
import { crc32ImplName } from '../../src/wire/crc32.ts';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Parses the flags every benchmark understands. */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): { smoke: boolean } {
  return { smoke: argv.includes('--smoke') };
}

/** The value of `--name value` or `--name=value`, if given. */
export function flagValue(name: string, argv: readonly string[] = process.argv.slice(2)): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** "1GiB", "256MiB", "64KiB", "1e6" or plain bytes -> bytes. */
export function parseSize(text: string): number {
  const m = /^\s*([\d.e+]+)\s*(b|kib|k|mib|m|gib|g)?\s*$/i.exec(text);
  if (m === null) throw new RangeError(`not a size: ${text}`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('g') ? 2 ** 30 : unit.startsWith('m') ? MiB : unit.startsWith('k') ? KiB : 1;
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`not a size: ${text}`);
  return n;
}

/** Median, extremes and relative spread ((max - min) / median) of repeated measurements. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max - min) / median, 0 for a single sample. */
  readonly spread: number;
  readonly samples: readonly number[];
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { median: NaN, min: NaN, max: NaN, spread: NaN, samples: [] };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, spread: median !== 0 ? (max - min) / Math.abs(median) : 0, samples };
}

/** Per-case timing budget handed to benchmark.js (seconds). */
export interface CaseBudget {
  readonly minTime: number;
  readonly maxTime: number;
  readonly minSamples: number;
  readonly delay: number;
}

/** Full runs take ~3 s per case; smoke runs a few tens of milliseconds, enough to prove the case works. */
export function caseBudget(smoke: boolean): CaseBudget {
  return smoke ? { minTime: 0.005, maxTime: 0.03, minSamples: 2, delay: 0 } : { minTime: 0.1, maxTime: 3, minSamples: 10, delay: 0.05 };
}

export interface MachineInfo {
  readonly os: string;
  readonly arch: string;
  readonly cpu: string;
  readonly cores: number;
  readonly totalMemGiB: number;
  readonly loadavg: readonly number[];
  readonly node: string;
  readonly v8: string;
  readonly crc32Impl: string;
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()})`,
    arch: os.arch(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    // Load at the start of the run: other work on the machine makes the figures noisy.
    loadavg: os.loadavg().map((n) => Math.round(n * 100) / 100),
    node: process.version,
    v8: process.versions.v8,
    crc32Impl: crc32ImplName,
    date: new Date().toISOString(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.os}, node ${m.node}, crc32=${m.crc32Impl}, load ${m.loadavg.join('/')}, ${m.date}`;
}

/** One benchmark case: `fn` performs one operation. */
export interface BenchCase {
  readonly name: string;
  readonly fn: () => unknown;
  /** Frames handled by one operation (0 when the notion does not apply). */
  readonly framesPerOp: number;
  /** Bytes handled by one operation, for MB/s. */
  readonly bytesPerOp: number;
  /** Free-form fields copied into the result (size, op, implementation ...). */
  readonly tags?: Readonly<Record<string, string | number>>;
}

export interface CaseMeasurement {
  readonly name: string;
  readonly tags: Readonly<Record<string, string | number>>;
  readonly opsPerSec: number;
  readonly framesPerSec: number;
  /** 10^6 bytes per second. */
  readonly mbPerSec: number;
  /** Relative margin of error at 95 %, in percent. */
  readonly rme: number;
  readonly samples: number;
  readonly framesPerOp: number;
  readonly bytesPerOp: number;
}

/**
 * Runs the cases as one benny suite and returns one measurement per case, in order.
 * Progress goes to stderr one line per case (benny's own cycle output redraws the terminal,
 * which is unreadable in logs and CI).
 */
export async function runCases(suiteName: string, cases: readonly BenchCase[], budget: CaseBudget): Promise<CaseMeasurement[]> {
  const byName = new Map(cases.map((c) => [c.name, c]));
  if (byName.size !== cases.length) throw new Error(`duplicate case names in suite ${suiteName}`);
  const summary = await suite(
    suiteName,
    configure({ cases: { ...budget }, minDisplayPrecision: 3 }),
    ...cases.map((c) => add(c.name, c.fn)),
    cycle((result) => {
      process.stderr.write(`  ${result.name.padEnd(52)} ${formatNumber(result.ops).padStart(14)} ops/s ±${result.margin.toFixed(2)}% (${result.samples} samples)\n`);
      return undefined;
    }),
  );
  return summary.results.map((r) => {
    const c = byName.get(r.name)!;
    // `ops` in the summary is rounded for display; the mean sample time is exact.
    const opsPerSec = r.details.mean > 0 ? 1 / r.details.mean : r.ops;
    return {
      name: r.name,
      tags: c.tags ?? {},
      opsPerSec,
      framesPerSec: opsPerSec * c.framesPerOp,
      mbPerSec: (opsPerSec * c.bytesPerOp) / 1e6,
      rme: r.margin,
      samples: r.samples,
      framesPerOp: c.framesPerOp,
      bytesPerOp: c.bytesPerOp,
    };
  });
}

/** A Markdown table; columns whose every cell looks numeric are right-aligned. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[±+-]?\d[\d,.]*(\s*[%a-zA-Z/]*)?$/.test(r[i] ?? '')));
  const cell = (s: string, i: number): string => (numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: readonly string[]): string => `| ${cells.map((s, i) => cell(s, i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map((r) => line(r))].join('\n');
}

/** 1234567.8 -> "1,234,568"; small values keep up to 3 significant decimals. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toLocaleString('en-US', { maximumSignificantDigits: 3 });
}

/** 65536 -> "64 KiB". */
export function formatSize(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

/**
 * Writes `{ machine, ...data }` to bench/results/<name>.json, or <name>.tmp.json for smoke runs
 * (the committed figures are never overwritten by a smoke run). Returns the path written.
 */
export function writeResults(name: string, smoke: boolean, data: Readonly<Record<string, unknown>>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, smoke ? `${name}.tmp.json` : `${name}.json`);
  writeFileSync(path, `${JSON.stringify(data, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v), 2)}\n`);
  return path;
}

/** Deterministic pseudo-random bytes (xorshift32), so every run hashes the same data. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Keeps results alive so the optimiser cannot drop a computation whose value is unused. */
export const sink = { value: 0 };

/**
 * CRC-32 implementations (src/wire/crc32.ts) on 64 B .. 1 MiB, and the cost of the exported
 * function compared with calling each raw implementation directly.
 *
 *   npm run bench:crc            full run, writes bench/results/crc.json
 *   npm run bench:crc -- --smoke quick check, writes bench/results/crc.tmp.json
 *
 * One operation makes `calls` CRC calls over distinct views of a 64 KiB pool (so a 64 B case
 * does not time the harness); throughput is reported per call and in GB/s (10^9 bytes).
 * Every loop below is its own function literal, so each call site sees exactly one target, as the
 * codec's call sites do.
 */

import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import CRC32 from 'crc-32';
import { crc32, crc32ImplName, crc32Implementations, type Crc32Fn, type Crc32ImplName } from '../src/wire/crc32.ts';
import {
  benchArgs,
  caseBudget,
  describeMachine,
  formatNumber,
  formatSize,
  KiB,
  machineInfo,
  markdownTable,
  MiB,
  pseudoRandomBytes,
  runCases,
  sink,
  writeResults,
  type BenchCase,
  type CaseMeasurement,
} from './lib/report.ts';

type Views = readonly Uint8Array[];
type Loop = (views: Views) => number;

const SIZES = [64, KiB, 16 * KiB, 64 * KiB, MiB] as const;
/** Extra sizes that locate the crossover between the pure-JS and the native implementations. */
const CROSSOVER_SIZES = [16, 128, 256, 512] as const;
const ALL_SIZES: readonly number[] = [...new Set<number>([...SIZES, ...CROSSOVER_SIZES])].sort((a, b) => a - b);
/** Sizes of the wrapper-overhead comparison: a header's 16 covered bytes, and a small frame. */
const OVERHEAD_SIZES = [16, 64] as const;
const POOL = 64 * KiB;
const OVERHEAD_ROUNDS = 3;

const require = createRequire(import.meta.url);

/** The raw functions, without the closures crc32.ts wraps them in. */
function loadRawNodeRs(): ((input: Uint8Array, initial?: number) => number) | undefined {
  try {
    return (require('@node-rs/crc32') as { crc32: (input: Uint8Array, initial?: number) => number }).crc32;
  } catch {
    return undefined;
  }
}
const rawNodeRs = loadRawNodeRs();
const rawZlib = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const wrapped: Readonly<Record<Crc32ImplName, Crc32Fn | undefined>> = crc32Implementations;
const wNodeRs = wrapped['node-rs'];
const wZlib = wrapped.zlib;
const wJs = wrapped.js!;

// One literal per target: a shared loop would make its call site polymorphic and time the IC.
const loops: Readonly<Record<string, Loop | undefined>> = {
  'node-rs': wNodeRs && ((views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= wNodeRs(views[i]!);
    return s;
  }),
  zlib: wZlib && ((views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= wZlib(views[i]!);
    return s;
  }),
  js: (views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= wJs(views[i]!);
    return s;
  },
  'raw node-rs': rawNodeRs && ((views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= rawNodeRs(views[i]!);
    return s;
  }),
  'raw zlib': rawZlib && ((views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= rawZlib(views[i]!);
    return s;
  }),
  'raw js': (views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= CRC32.buf(views[i]!) >>> 0;
    return s;
  },
  [`exported crc32 (${crc32ImplName})`]: (views) => {
    let s = 0;
    for (let i = 0; i < views.length; i++) s ^= crc32(views[i]!);
    return s;
  },
};

function loop(name: string): Loop | undefined {
  return loops[name];
}

/** `calls` views of `size` bytes spread over a pool of max(size, 64 KiB). */
function viewsOf(size: number): Views {
  const calls = Math.max(1, Math.floor(POOL / size));
  const pool = pseudoRandomBytes(Math.max(size * calls, size));
  return Array.from({ length: calls }, (_, i) => pool.subarray(i * size, (i + 1) * size));
}

function makeCase(name: string, target: string, size: number, views: Views, group: string): BenchCase | undefined {
  const run = loop(target);
  if (run === undefined) return undefined;
  return {
    name,
    fn: () => (sink.value ^= run(views)),
    framesPerOp: views.length,
    bytesPerOp: views.length * size,
    tags: { group, impl: target, size, callsPerOp: views.length },
  };
}

const IMPLS: readonly Crc32ImplName[] = ['node-rs', 'zlib', 'js'];

async function main(): Promise<void> {
  const { smoke } = benchArgs();
  const machine = machineInfo();
  const budget = caseBudget(smoke);
  console.log(`# CRC-32 benchmark${smoke ? ' (smoke)' : ''}\n\n${describeMachine(machine)}\n`);
  const missing = IMPLS.filter((n) => wrapped[n] === undefined);
  if (missing.length > 0) console.log(`Not available here: ${missing.join(', ')}\n`);

  // Sanity: every implementation agrees before anything is timed.
  const probe = pseudoRandomBytes(4099, 7);
  for (const name of IMPLS) {
    const fn = wrapped[name];
    if (fn !== undefined && fn(probe) !== (CRC32.buf(probe) >>> 0)) throw new Error(`${name} disagrees with crc-32`);
  }

  const throughputCases: BenchCase[] = [];
  for (const size of ALL_SIZES) {
    const views = viewsOf(size);
    for (const impl of IMPLS) {
      const c = makeCase(`${impl} ${formatSize(size)}`, impl, size, views, 'throughput');
      if (c) throughputCases.push(c);
    }
  }
  const throughput = await runCases('crc32 throughput', throughputCases, budget);

  // A few ns on a ~100 ns call is below the run-to-run noise of one measurement, so the targets
  // are measured in interleaved rounds and each keeps its best (least disturbed) round.
  const overheadCases: BenchCase[] = [];
  for (let round = 1; round <= OVERHEAD_ROUNDS; round++) {
    for (const size of OVERHEAD_SIZES) {
      const views = viewsOf(size);
      for (const target of Object.keys(loops)) {
        const c = makeCase(`${target} ${formatSize(size)} (overhead, round ${round})`, target, size, views, 'overhead');
        if (c) overheadCases.push(c);
      }
    }
  }
  const overheadBudget = { ...budget, maxTime: Math.min(budget.maxTime, 1) };
  const overheadRounds = await runCases('crc32 wrapper overhead', overheadCases, overheadBudget);
  const overhead: CaseMeasurement[] = [];
  for (const m of overheadRounds) {
    const i = overhead.findIndex((o) => o.tags['impl'] === m.tags['impl'] && o.tags['size'] === m.tags['size']);
    if (i < 0) overhead.push(m);
    else if (m.framesPerSec > overhead[i]!.framesPerSec) overhead[i] = m;
  }

  const nsPerCall = (m: CaseMeasurement): number => 1e9 / m.framesPerSec;

  // --- throughput table ---------------------------------------------------------------------
  const rows = throughput.map((m) => [
    formatSize(Number(m.tags['size'])),
    String(m.tags['impl']),
    formatNumber(m.framesPerSec),
    (m.mbPerSec / 1000).toFixed(2),
    nsPerCall(m).toFixed(1),
    `±${m.rme.toFixed(1)}%`,
  ]);
  console.log('## Throughput\n');
  console.log(markdownTable(['size', 'impl', 'calls/s', 'GB/s', 'ns/call', 'rme'], rows));

  const fastestBySize: Record<string, string> = {};
  for (const size of ALL_SIZES) {
    const here = throughput.filter((m) => m.tags['size'] === size);
    const best = here.reduce((a, b) => (b.mbPerSec > a.mbPerSec ? b : a));
    fastestBySize[formatSize(size)] = String(best.tags['impl']);
  }
  console.log(`\nFastest per size: ${Object.entries(fastestBySize).map(([s, i]) => `${s} → ${i}`).join(', ')}`);
  console.log(`Selection order in crc32.ts: node-rs, zlib, js (in use here: ${crc32ImplName})`);

  // --- wrapper overhead ---------------------------------------------------------------------
  const find = (target: string, size: number): CaseMeasurement | undefined => overhead.find((m) => m.tags['impl'] === target && m.tags['size'] === size);
  const overheadRows: string[][] = [];
  const overheadJson: Record<string, unknown>[] = [];
  for (const size of OVERHEAD_SIZES) {
    for (const impl of IMPLS) {
      const w = find(impl, size);
      const r = find(`raw ${impl}`, size);
      if (!w || !r) continue;
      const diff = nsPerCall(w) - nsPerCall(r);
      overheadRows.push([formatSize(size), impl, nsPerCall(w).toFixed(1), nsPerCall(r).toFixed(1), diff.toFixed(1), `${((diff / nsPerCall(r)) * 100).toFixed(1)}%`]);
      overheadJson.push({ size, impl, wrappedNsPerCall: nsPerCall(w), rawNsPerCall: nsPerCall(r), overheadNs: diff, wrappedRme: w.rme, rawRme: r.rme });
    }
    const e = overhead.find((m) => String(m.tags['impl']).startsWith('exported') && m.tags['size'] === size);
    const r = find(`raw ${crc32ImplName}`, size);
    if (e && r) {
      const diff = nsPerCall(e) - nsPerCall(r);
      overheadRows.push([formatSize(size), `exported crc32 (${crc32ImplName})`, nsPerCall(e).toFixed(1), nsPerCall(r).toFixed(1), diff.toFixed(1), `${((diff / nsPerCall(r)) * 100).toFixed(1)}%`]);
      overheadJson.push({ size, impl: `exported crc32 (${crc32ImplName})`, wrappedNsPerCall: nsPerCall(e), rawNsPerCall: nsPerCall(r), overheadNs: diff, wrappedRme: e.rme, rawRme: r.rme });
    }
  }
  console.log(`\n## Exported function vs raw implementation (best of ${OVERHEAD_ROUNDS} interleaved rounds)\n`);
  console.log(markdownTable(['size', 'impl', 'exported ns/call', 'raw ns/call', 'overhead ns', 'overhead'], overheadRows));

  const path = writeResults('crc', smoke, {
    machine,
    mode: smoke ? 'smoke' : 'full',
    budget,
    selectionOrder: ['node-rs', 'zlib', 'js'],
    inUse: crc32ImplName,
    fastestBySize,
    throughput: throughput.map((m) => ({
      size: m.tags['size'],
      impl: m.tags['impl'],
      callsPerSec: m.framesPerSec,
      gbPerSec: m.mbPerSec / 1000,
      nsPerCall: nsPerCall(m),
      rme: m.rme,
      samples: m.samples,
      callsPerOp: m.framesPerOp,
    })),
    wrapperOverhead: overheadJson,
    overheadRounds: overheadRounds.map((m) => ({ case: m.name, nsPerCall: nsPerCall(m), rme: m.rme, samples: m.samples })),
  });
  console.log(`\nResults written to ${path}`);
}

await main();

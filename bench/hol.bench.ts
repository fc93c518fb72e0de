/**
 * The head-of-line study: p50/p99/p99.9 latency of 64-byte request → echo round trips while N bulk
 * streams saturate the same framewire connection, swept over max_frame_payload × scheduling policy
 * (FIFO, round-robin, urgency) × N, against the same requests over a separate TCP connection and
 * over node:http2. Client and server in separate processes on loopback. See bench/hol/run.ts and
 * the "Head-of-line study" section of bench/README.md.
 *
 *   npm run bench:hol                      full sweep (~4-5 min on 2 cores): bench/results/hol.json + hol-*.svg
 *   npm run bench:hol -- --smoke           a reduced sweep (< 20 s): bench/results/hol.tmp.json, charts in tmp/hol-smoke/
 *   npm run bench:hol -- --frames 16KiB,1MiB --counts 4 --policies fifo,urgency --duration 2000 --repeats 5 --name hol-n4
 *
 * Other flags: --transports framewire,tcp-separate,http2  --warm ms  --tail ms  --warmups n.
 * --replot redraws the charts and tables of bench/results/<name>.json without measuring.
 * --name writes bench/results/<name>.json and <name>-*.svg instead of hol.json / hol-*.svg.
 */

import { benchArgs, flagValue, parseSize } from './lib/report.ts';
import { POLICIES, TRANSPORTS, type Policy, type Transport } from './hol/common.ts';
import { defaultHolOptions, replotHol, runHol } from './hol/run.ts';

const { smoke } = benchArgs();
const defaults = defaultHolOptions(smoke);
const list = <T>(name: string, parse: (s: string) => T, fallback: readonly T[]): readonly T[] => {
  const v = flagValue(name);
  return v === undefined ? fallback : v.split(',').map((x) => parse(x.trim()));
};
const oneOf = <T extends string>(name: string, all: readonly T[]) => (s: string): T => {
  if (!all.includes(s as T)) throw new RangeError(`--${name}: unknown ${s} (known: ${all.join(', ')})`);
  return s as T;
};
const num = (name: string, fallback: number): number => {
  const v = flagValue(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`--${name}: not a number: ${v}`);
  return n;
};

const name = flagValue('name') ?? defaults.name;
if (!/^[\w.-]+$/.test(name)) throw new RangeError(`--name: letters, digits, '.', '-' and '_' only: ${name}`);
const options = {
  ...defaults,
  name,
  frames: list('frames', parseSize, defaults.frames),
  bulkCounts: list('counts', (s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--counts: not a positive integer: ${s}`);
    return n;
  }, defaults.bulkCounts),
  policies: list<Policy>('policies', oneOf('policies', POLICIES), defaults.policies),
  transports: list<Transport>('transports', oneOf('transports', TRANSPORTS), defaults.transports),
  durationMs: num('duration', defaults.durationMs),
  warmMs: num('warm', defaults.warmMs),
  tailMs: num('tail', defaults.tailMs),
  repeats: num('repeats', defaults.repeats),
  warmups: num('warmups', defaults.warmups),
};

const result = process.argv.includes('--replot') ? replotHol(name, smoke) : await runHol(options);
process.stdout.write(`${result.markdown}\n\nResults: ${result.path}\nCharts: ${result.charts.join(', ')}\n`);

/**
 * End-to-end throughput and latency: framewire against raw node:net, node:http2 and yamux, client
 * and server in separate processes on loopback. See bench/e2e/run.ts and bench/README.md.
 *
 *   npm run bench:e2e                      full run, writes bench/results/e2e.json
 *   npm run bench:e2e -- --smoke           every case tiny (~1 min), writes bench/results/e2e.tmp.json
 *   npm run bench:e2e -- --commit          the full run, and its tables into bench/README.md (npm run bench:commit)
 *   npm run bench:e2e -- --size 256MiB --repeats 5 --protocols framewire,raw-batched,iperf3 --cases bulk1,hol
 *   npm run bench:e2e -- --profile         also write .cpuprofile files of the framewire processes to tmp/prof
 *   npm run bench:e2e -- --no-pin          let the OS place server and client (default: pinned to CPUs 0 and 1)
 *   npm run bench:e2e -- --heap-trim       leave glibc's heap trimming on (default: off for every contender, see children.ts)
 */

import { join } from 'node:path';
import { benchArgs, flagValue, parseSize, RESULTS_DIR } from './lib/report.ts';
import { CONTENDERS, type Contender } from './e2e/common.ts';
import { commitE2E } from './e2e/commit.ts';
import { CASE_NAMES, defaultE2EOptions, runE2E, type CaseName } from './e2e/run.ts';

const { smoke } = benchArgs();
const defaults = defaultE2EOptions(smoke);
const list = <T extends string>(name: string, all: readonly T[], fallback: readonly T[]): readonly T[] => {
  const v = flagValue(name);
  if (v === undefined) return fallback;
  const picked = v.split(',').map((x) => x.trim()) as T[];
  for (const p of picked) if (!all.includes(p)) throw new RangeError(`--${name}: unknown ${p} (known: ${all.join(', ')})`);
  return picked;
};
const num = (name: string, fallback: number): number => {
  const v = flagValue(name);
  return v === undefined ? fallback : Number(v);
};

const size = flagValue('size');
const options = {
  ...defaults,
  size: size === undefined ? defaults.size : parseSize(size),
  repeats: num('repeats', defaults.repeats),
  warmups: num('warmups', defaults.warmups),
  messages: num('messages', defaults.messages),
  stallMs: num('stall-ms', defaults.stallMs),
  contenders: list<Contender>('protocols', CONTENDERS, defaults.contenders),
  cases: list<CaseName>('cases', CASE_NAMES, defaults.cases),
  profileDir: process.argv.includes('--profile') ? (flagValue('profile-dir') ?? join(RESULTS_DIR, '..', '..', 'tmp', 'prof')) : undefined,
  pin: defaults.pin && !process.argv.includes('--no-pin'),
  heapTrim: process.argv.includes('--heap-trim'),
};

const commit = process.argv.includes('--commit');
if (commit && smoke) throw new RangeError('--commit writes the committed figures: it cannot be a --smoke run');
const result = commit ? await commitE2E(options, `npm run bench:e2e -- ${process.argv.slice(2).join(' ')}`) : await runE2E(options);
process.stdout.write(`${result.markdown}\n\nResults: ${result.path ?? 'not written'}${commit ? ', and bench/README.md' : ''}\n`);

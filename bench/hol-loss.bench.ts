/**
 * Head-of-line blocking under real packet loss (issue 18): a 64-byte ping's round trip while bulk
 * streams load the same connection, for framewire over one TCP connection, over separate TCP
 * connections and over QUIC, and for node:http2 and yamux, at 0 / 0.5 / 1 / 2 / 5 % loss. Needs
 * root (network namespaces, nftables, ethtool); without it, says so and exits 0. See
 * bench/hol-loss/run.ts and the "Head-of-line blocking under loss" section of bench/README.md.
 *
 *   npm run bench:hol-loss                 full run (~10 min): bench/results/hol-loss.json + hol-loss-*.svg
 *   npm run bench:hol-loss -- --smoke      one short point (1 % loss, framewire over TCP and QUIC): hol-loss.tmp.json
 *   npm run bench:hol-loss -- --cases fw-tcp,fw-quic --losses 0,2 --repeats 5 --duration 5000 --rate 20e6
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, flagValue, RESULTS_DIR } from './lib/report.ts';
import { holLossCharts } from './hol-loss/charts.ts';
import { CASES, type CaseName } from './hol-loss/common.ts';
import { defaultHolLossOptions, runHolLoss } from './hol-loss/run.ts';

const { smoke } = benchArgs();
const defaults = defaultHolLossOptions(smoke);
const num = (name: string, fallback: number): number => {
  const v = flagValue(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`--${name}: not a number: ${v}`);
  return n;
};
const cases = flagValue('cases')?.split(',').map((c) => {
  if (!CASES.includes(c as CaseName)) throw new RangeError(`--cases: unknown ${c} (known: ${CASES.join(', ')})`);
  return c as CaseName;
});
const losses = flagValue('losses')?.split(',').map(Number);
if (losses?.some((l) => !Number.isFinite(l) || l < 0 || l > 100) === true) throw new RangeError('--losses: percentages 0..100');
const options = {
  ...defaults,
  ...(cases === undefined ? {} : { cases }),
  ...(losses === undefined ? {} : { losses }),
  repeats: num('repeats', defaults.repeats),
  durationMs: num('duration', defaults.durationMs),
  warmMs: num('warm', defaults.warmMs),
  bulkRate: num('rate', defaults.bulkRate),
  bulkStreams: num('bulk', defaults.bulkStreams),
};

const result = await runHolLoss(options);
if (result.skipped !== undefined) {
  process.stdout.write(`${result.markdown}\n`);
} else {
  const dir = smoke ? join(RESULTS_DIR, '..', '..', 'tmp', 'hol-loss-smoke') : RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const charts = holLossCharts(result.summaries, options, result.machine!).map(([name, svg]) => {
    const path = join(dir, name);
    writeFileSync(path, svg);
    return path;
  });
  process.stdout.write(`${result.markdown}\n\nResults: ${result.path}\nCharts: ${charts.join(', ')}\n`);
}

// A run that produced no result is a broken harness, not a data point: fail, so CI's smoke catches it.
const failed = result.summaries.flatMap((s) => s.runs.filter((r) => r.error !== undefined).map((r) => `${s.caseName} at ${s.loss} %: ${r.error}`));
if (failed.length > 0) {
  process.stderr.write(`hol-loss: ${failed.length} run(s) failed:\n  ${failed.join('\n  ')}\n`);
  process.exitCode = 1;
}

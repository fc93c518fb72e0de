/** The per-repeat ratios of bench/e2e (ratios.ts): what the benchmark's headline figures are made of. */

import { describe, expect, it } from 'vitest';
import { formatRatio, NOISY_SPREAD, pairedRatio, summarizeRatios } from '../../bench/e2e/ratios.ts';

describe('pairedRatio', () => {
  it('takes the median of per-repeat ratios, not the ratio of medians', () => {
    // Repeat 2 was a noisy minute for both contenders; repeat 3 for the baseline only.
    const a = [100, 30, 50];
    const b = [200, 60, 40];
    const r = pairedRatio(a, b);
    expect(r.median).toBe(0.5);
    expect([r.min, r.max]).toEqual([0.5, 1.25]);
    expect(r.noisy).toBe(true);
    // The ratio of the two medians (50 / 60) would mix repeat 3 of one with repeat 2 of the other.
    expect(50 / 60).not.toBeCloseTo(r.median, 2);
  });

  it('pairs by repeat and skips repeats missing on either side', () => {
    const r = pairedRatio([10, undefined, 30, 40], [10, 10, undefined, 20]);
    expect(r.repeats).toBe(2);
    expect([r.min, r.median, r.max]).toEqual([1, 1.5, 2]);
  });

  it('flags a spread beyond ±15 % around the median, and not one within it', () => {
    const within = summarizeRatios([1, 1 + NOISY_SPREAD - 0.001, 1 - NOISY_SPREAD + 0.001]);
    expect(within.noisy).toBe(false);
    expect(summarizeRatios([1, 1, 1.16]).noisy).toBe(true);
    expect(summarizeRatios([1, 1, 0.84]).noisy).toBe(true);
  });

  it('formats the median with min–max and the flag', () => {
    expect(formatRatio(summarizeRatios([0.9, 1, 1.2]))).toBe('1.00 (0.90–1.20) noisy');
    expect(formatRatio(summarizeRatios([2]))).toBe('2.00');
    expect(formatRatio(pairedRatio([], []))).toBe('n/a');
  });
});

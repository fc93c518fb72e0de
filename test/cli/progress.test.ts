/** The upload progress bar's ETA text (issue 16: it showed "ETA NFs" before the first confirmed chunk). */

import { describe, expect, it } from 'vitest';
import { etaText } from '../../src/cli/progress.ts';

describe('etaText', () => {
  it('never says NF, NaN or Infinity: an unknown rate is "--"', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e-300]) {
      const text = etaText(1_000_000, rate);
      expect(text, String(rate)).toBe('--');
    }
    expect(etaText(0, 0)).toBe('0s');
    expect(etaText(Number.NaN, 1)).not.toMatch(/NaN|NF|Infinity/u);
  });

  it('formats seconds, minutes and hours', () => {
    expect(etaText(12, 1)).toBe('12s');
    expect(etaText(65, 1)).toBe('1m05s');
    expect(etaText(3600 + 120, 1)).toBe('1h02m');
  });
});

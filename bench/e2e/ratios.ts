/**
 * Ratios between contenders taken repeat by repeat. Every repeat runs all contenders of a case back
 * to back, so a noisy minute on the machine lands on both sides of a per-repeat ratio; the median of
 * those ratios (not the ratio of two medians, which may come from different minutes) is the figure
 * reported, with its min–max, and a case whose ratios stray from their median by more than
 * NOISY_SPREAD is flagged noisy.
 */

/** A ratio further than this from its median, in either direction, makes the case noisy. */
export const NOISY_SPREAD = 0.15;

/** One measurement per repeat; `undefined` where that repeat has none (failed or skipped). */
export type PerRepeat = readonly (number | undefined)[];

export interface RatioSummary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Repeats that had both sides. */
  readonly repeats: number;
  /** Some ratio lies more than NOISY_SPREAD away from the median. */
  readonly noisy: boolean;
}

export const NO_RATIO: RatioSummary = { median: NaN, min: NaN, max: NaN, repeats: 0, noisy: false };

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Summarises ratios already taken per repeat (NaN and infinite ones are left out). */
export function summarizeRatios(ratios: readonly number[]): RatioSummary {
  const finite = ratios.filter((r) => Number.isFinite(r));
  if (finite.length === 0) return NO_RATIO;
  const m = median(finite);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const noisy = m > 0 && (max / m > 1 + NOISY_SPREAD || min / m < 1 - NOISY_SPREAD);
  return { median: m, min, max, repeats: finite.length, noisy };
}

/** a[i] / b[i] for every repeat i where both exist and b[i] > 0, summarised. */
export function pairedRatio(a: PerRepeat, b: PerRepeat): RatioSummary {
  const ratios: number[] = [];
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && y > 0) ratios.push(x / y);
  }
  return summarizeRatios(ratios);
}

/** "0.93 (0.88–1.01)", with " noisy" when flagged; "n/a" without data. */
export function formatRatio(r: RatioSummary): string {
  if (!Number.isFinite(r.median)) return 'n/a';
  const range = r.repeats > 1 ? ` (${r.min.toFixed(2)}–${r.max.toFixed(2)})` : '';
  return `${r.median.toFixed(2)}${range}${r.noisy ? ' noisy' : ''}`;
}

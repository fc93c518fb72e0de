import { describe, expect, it } from 'vitest';
import { missedCases, shortOfMethod } from '../../bench/e2e/commit.ts';
import { defaultE2EOptions } from '../../bench/e2e/run.ts';
import { NO_RATIO } from '../../bench/e2e/ratios.ts';

describe('bench:commit', () => {
  it('names every way a run falls short of the method, and nothing for the full run', () => {
    const full = defaultE2EOptions(false);
    expect(shortOfMethod(full)).toEqual([]);
    const short = shortOfMethod({ ...full, repeats: 2, warmups: 0, size: 64 * 2 ** 20, cases: ['bulk1'] });
    expect(short).toHaveLength(4);
    expect(short.join('; ')).toMatch(/2 repeats \(the method: 5\).*0 warm-ups.*67108864 bytes.*subset/);
    expect(shortOfMethod(defaultE2EOptions(true))[0]).toBe('a smoke run');
  });

  it('profiles the cases with a missed goal, once each, not those only reported', () => {
    const row = (name: string, met: boolean | undefined) => ({ name, ratio: NO_RATIO, goal: '', met });
    const targets = [row('bulk1: framewire MB/s / best raw', false), row('bulk1: framewire / http2', false), row('bulk8: framewire / yamux', true), row('msgs: x', undefined), row('hol: y', false)];
    expect(missedCases({ targets })).toEqual(['bulk1', 'hol']);
  });
});

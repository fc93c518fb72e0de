import { describe, expect, it } from 'vitest';
import { isNotTheWork, selfTimes, type CpuProfile } from '../../bench/e2e/profile.ts';

const frame = (id: number, functionName: string, url = '') => ({ id, callFrame: { functionName, url, lineNumber: 9 } });

describe('cpu profile self times', () => {
  const profile: CpuProfile = {
    nodes: [frame(1, '(idle)'), frame(2, 'compileSourceTextModule', 'node:internal/modules/esm/utils'), frame(3, 'pump', 'file:///repo/src/session/session.ts'), frame(4, 'crc32'), frame(5, 'dispatch')],
    samples: [1, 2, 3, 4, 3, 1, 5],
    timeDeltas: [5000, 1000, 2000, 1000, 2000, 5000, 3000],
  };

  it('sums self time per function over several profiles, largest first, with shares', () => {
    const rows = selfTimes([profile, profile]);
    expect(rows[0]).toEqual({ name: '(idle)', ms: 20, share: 20 / 38 });
    expect(rows.map((r) => r.name)).toContain('crc32');
  });

  it('leaves idle time, module loading and the profiler\'s dispatch out of the entries and of the shares', () => {
    const rows = selfTimes([profile], isNotTheWork);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.name).toMatch(/^pump .*src\/session\/session\.ts:10$/);
    expect(rows[0]!.ms).toBe(4);
    expect(rows[0]!.share).toBeCloseTo(0.8);
    expect(rows[1]).toEqual({ name: 'crc32', ms: 1, share: 0.2 });
  });
});

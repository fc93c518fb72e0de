import { describe, expect, it } from 'vitest';
import { demoteHeadings, replaceBlock } from '../../bench/lib/readme-block.ts';

describe('bench README blocks', () => {
  const readme = 'intro\n<!-- e2e-results -->\nold figures\nmore\n<!-- /e2e-results -->\nafter\n';

  it('replaces only what lies between the markers, and again on a rerun', () => {
    const once = replaceBlock(readme, 'e2e-results', '## new\n\n| a |\n');
    expect(once).toBe('intro\n<!-- e2e-results -->\n## new\n\n| a |\n<!-- /e2e-results -->\nafter\n');
    expect(replaceBlock(once, 'e2e-results', 'third')).toBe('intro\n<!-- e2e-results -->\nthird\n<!-- /e2e-results -->\nafter\n');
  });

  it('fills an empty block', () => {
    expect(replaceBlock('<!-- p -->\n<!-- /p -->\n', 'p', 'x')).toBe('<!-- p -->\nx\n<!-- /p -->\n');
  });

  it('refuses a README without the block, with only one marker, or with the block twice', () => {
    expect(() => replaceBlock(readme, 'perf-results', 'x')).toThrow(/no "<!-- perf-results -->"/);
    expect(() => replaceBlock('<!-- p -->\nx\n', 'p', 'y')).toThrow(/no "<!-- p -->"/);
    expect(() => replaceBlock('<!-- p -->\n<!-- /p -->\n<!-- p -->\n<!-- /p -->\n', 'p', 'y')).toThrow(/twice/);
  });

  it('moves headings down, outside code fences only', () => {
    expect(demoteHeadings('## A\ntext #1\n### B\n```\n# not a heading\n```\n#no', 1)).toBe('### A\ntext #1\n#### B\n```\n# not a heading\n```\n#no');
  });
});

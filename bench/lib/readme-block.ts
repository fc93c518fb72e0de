/**
 * Puts a benchmark's committed figures into bench/README.md between `<!-- name -->` and
 * `<!-- /name -->`, so the README's table and bench/results/*.json come from the same run and a
 * rerun replaces the figures instead of someone copying them by hand.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './report.ts';

export const BENCH_README = join(RESULTS_DIR, '..', 'README.md');

/** `text` with the lines between the block's two markers replaced by `content`. */
export function replaceBlock(text: string, name: string, content: string): string {
  const open = `<!-- ${name} -->\n`;
  const close = `<!-- /${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close, start + open.length);
  if (start < 0 || end < 0) throw new Error(`no "${open.trim()}" … "${close}" block in the README`);
  if (text.indexOf(open, start + 1) >= 0) throw new Error(`"${open.trim()}" appears twice in the README`);
  return `${text.slice(0, start + open.length)}${content.trimEnd()}\n${text.slice(end)}`;
}

/**
 * Markdown written for stdout, its headings moved down `levels` so it nests under a README
 * section. Lines inside fenced code blocks are left alone.
 */
export function demoteHeadings(markdown: string, levels: number): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) fenced = !fenced;
      return !fenced && /^#{1,6} /.test(line) ? `${'#'.repeat(levels)}${line}` : line;
    })
    .join('\n');
}

export function writeReadmeBlock(name: string, content: string, path = BENCH_README): void {
  writeFileSync(path, replaceBlock(readFileSync(path, 'utf8'), name, content));
}

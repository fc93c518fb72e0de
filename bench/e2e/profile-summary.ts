/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): the top entries by self time,
 * aggregated by function and source location, one table per file.
 *
 *   npx tsx bench/e2e/profile-summary.ts tmp/prof/server-*.cpuprofile [--top 25]
 */

import { flagValue, markdownTable } from '../lib/report.ts';
import { readProfile, selfTimes } from './profile.ts';

const files = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--top');
const top = Number(flagValue('top') ?? 25);
for (const file of files) {
  const rows = selfTimes([readProfile(file)]).slice(0, top);
  process.stdout.write(`\n${file}\n\n${markdownTable(['self ms', 'share', 'function'], rows.map((r) => [r.ms.toFixed(1), `${(r.share * 100).toFixed(1)}%`, r.name]))}\n`);
}

/**
 * `npm run bench:commit` (bench:e2e with --commit): the full run whose figures are committed. It
 * writes bench/results/e2e.json and replaces the e2e block of bench/README.md with the same run's
 * tables, so the two cannot disagree; where a target is missed it reruns that case for framewire
 * alone under the profiler (its measured runs only, window-profile.ts) and adds the top self-time entries of both processes, the starting point
 * of the closing note's "what would close the gap".
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoteHeadings, writeReadmeBlock } from '../lib/readme-block.ts';
import { markdownTable } from '../lib/report.ts';
import { isNotTheWork, profilesIn, selfTimes } from './profile.ts';
import { CASE_NAMES, defaultE2EOptions, runE2E, type CaseName, type E2EOptions, type E2EReport } from './run.ts';

export const E2E_README_BLOCK = 'e2e-results';

/** Profile entries shown per process for a missed target. */
const PROFILE_TOP = 12;

/** How a run falls short of the method bench/README.md describes (empty: it does not). */
export function shortOfMethod(o: E2EOptions): string[] {
  const full = defaultE2EOptions(false);
  const short: string[] = [];
  if (o.smoke) short.push('a smoke run');
  if (o.repeats < full.repeats) short.push(`${o.repeats} repeats (the method: ${full.repeats})`);
  if (o.warmups < full.warmups) short.push(`${o.warmups} warm-ups (the method: ${full.warmups})`);
  if (o.size < full.size) short.push(`${o.size} bytes per bulk case (the method: ${full.size})`);
  if (o.messages < full.messages) short.push(`${o.messages} messages (the method: ${full.messages})`);
  if (o.cases.length < full.cases.length || o.contenders.length < full.contenders.length) short.push('a subset of the cases or contenders');
  return short;
}

/** The cases with a target that has a goal and missed it. */
export function missedCases(report: Pick<E2EReport, 'targets'>): CaseName[] {
  const missed = new Set<CaseName>();
  for (const t of report.targets) {
    if (t.met !== false) continue;
    const c = CASE_NAMES.find((name) => t.name.startsWith(`${name}:`));
    if (c !== undefined) missed.add(c);
  }
  return [...missed];
}

async function profileCase(o: E2EOptions, caseName: CaseName): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `fw-bench-commit-${caseName}-`));
  try {
    await runE2E({ ...o, contenders: ['framewire'], cases: [caseName], repeats: 1, warmups: 1, profileDir: undefined, profileWindowDir: dir, record: false });
    const table = (role: 'server' | 'client'): string => {
      const rows = selfTimes(profilesIn(join(dir, role)), isNotTheWork).slice(0, PROFILE_TOP);
      return rows.length === 0 ? `${role}: no profile written` : `${role}:\n\n${markdownTable(['self ms', 'share', 'function'], rows.map((r) => [r.ms.toFixed(1), `${(r.share * 100).toFixed(1)}%`, r.name]))}`;
    };
    return `#### Profile: ${caseName}, framewire alone, the measured runs of a warm-up and one repeat (top ${PROFILE_TOP} by self time; idle and the profiler's own dispatch left out)\n\n${table('server')}\n\n${table('client')}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function commitE2E(o: E2EOptions, command: string): Promise<E2EReport> {
  const startedAt = new Date();
  const report = await runE2E({ ...o, record: true });
  const minutes = (Date.now() - startedAt.getTime()) / 60_000;
  const short = shortOfMethod(o);
  const profiles: string[] = [];
  for (const c of missedCases(report)) {
    o.log(`  ${c}: a target is missed; profiling framewire alone`);
    profiles.push(await profileCase(o, c));
  }
  const lead = [
    `Committed run: \`${command}\`, started ${startedAt.toISOString().slice(0, 16)}Z, ${minutes.toFixed(1)} min; the same run wrote \`bench/results/e2e.json\`.`,
    ...(short.length > 0 ? [`**REDUCED RUN — not the committed figures**: ${short.join(', ')}. Rerun \`npm run bench:commit\` on a quiet machine.`] : []),
  ].join(' ');
  writeReadmeBlock(E2E_README_BLOCK, [lead, demoteHeadings(report.markdown, 1), ...profiles].join('\n\n'));
  return report;
}

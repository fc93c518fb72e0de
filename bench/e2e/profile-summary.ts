/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top entries by self time, aggregated by
 * function and source location.
 *
 *   npx tsx bench/e2e/profile-summary.ts tmp/prof/server-*.cpuprofile [--top 25]
 */

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagValue, markdownTable } from '../lib/report.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    const f = node.callFrame;
    const where = f.url === '' ? '' : ` ${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    totals.set(key, (totals.get(key) ?? 0) + dt);
    all += dt;
  }
  return [...totals.entries()].map(([name, us]) => ({ name, ms: us / 1000, share: all > 0 ? us / all : 0 })).sort((a, b) => b.ms - a.ms);
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const rel = relative(process.cwd(), path);
  return rel.startsWith('node_modules') ? rel.replace(/^node_modules\//, '') : rel;
}

const files = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--top');
const top = Number(flagValue('top') ?? 25);
for (const file of files) {
  const rows = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile).slice(0, top);
  process.stdout.write(`\n${file}\n\n${markdownTable(['self ms', 'share', 'function'], rows.map((r) => [r.ms.toFixed(1), `${(r.share * 100).toFixed(1)}%`, r.name]))}\n`);
}

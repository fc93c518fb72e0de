/**
 * Self time per function in V8 .cpuprofile files (from `node --cpu-prof`), aggregated by function
 * and source location, over one or several profiles.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/**
 * Entries that are not the work measured, left out of a profile's top entries and of the shares
 * when asked: idle time, node's module loading (start-up under tsx), and the inspector's own
 * `dispatch` (the in-process profiler's start and stop: 60 ms of a 500 ms idle test script).
 */
export const isNotTheWork = (name: string): boolean => name.startsWith('(idle)') || name === 'dispatch' || /node:internal\/(modules|bootstrap)\/|cjs-module-lexer/.test(name);

/** Self time per function over `profiles`, largest first; entries `skip` names are left out, shares included. */
export function selfTimes(profiles: readonly CpuProfile[], skip: (name: string) => boolean = () => false): SelfTime[] {
  const totals = new Map<string, number>();
  let all = 0;
  for (const profile of profiles) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i]!);
      const dt = profile.timeDeltas[i] ?? 0;
      if (node === undefined) continue;
      const f = node.callFrame;
      const where = f.url === '' ? '' : ` ${shortUrl(f.url)}:${f.lineNumber + 1}`;
      const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
      if (skip(key)) continue;
      totals.set(key, (totals.get(key) ?? 0) + dt);
      all += dt;
    }
  }
  return [...totals.entries()].map(([name, us]) => ({ name, ms: us / 1000, share: all > 0 ? us / all : 0 })).sort((a, b) => b.ms - a.ms);
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** Every .cpuprofile in `dir` (none if the directory does not exist). */
export function profilesIn(dir: string): CpuProfile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.cpuprofile')).map((n) => readProfile(join(dir, n)));
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const rel = relative(process.cwd(), path);
  return rel.startsWith('node_modules') ? rel.replace(/^node_modules\//, '') : rel;
}

/**
 * Network namespaces for benchmarks that need real packet loss: created by the run itself, named
 * with the run's pid so parallel runs never collide, and removed at exit (also on SIGINT/SIGTERM).
 * Needs root and iproute2; nftables drops packets (netem is not in every kernel).
 */

import { execFileSync, spawnSync } from 'node:child_process';

/** Why this machine cannot run namespace benchmarks, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and nftables)';
  for (const tool of ['ip', 'nft']) {
    if (spawnSync('which', [tool]).status !== 0) return `needs ${tool} (Debian: iproute2, nftables)`;
  }
  return undefined;
}

const created = new Set<string>();
let hooked = false;

function cleanupAll(): void {
  for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
  created.clear();
}

/** Runs a command in `ns` (or on the host when ns is undefined), throwing with its stderr on failure. */
export function run(ns: string | undefined, argv: readonly string[], input?: string): string {
  const full = ns === undefined ? argv : ['ip', 'netns', 'exec', ns, ...argv];
  try {
    return execFileSync(full[0]!, full.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
  } catch (error) {
    const e = error as { stderr?: string };
    throw new Error(`${full.join(' ')}: ${(e.stderr ?? String(error)).trim()}`, { cause: error });
  }
}

/** Creates a namespace with loopback up; it is deleted by deleteNamespace or at process exit. */
export function createNamespace(name: string): string {
  if (!hooked) {
    hooked = true;
    process.once('exit', cleanupAll);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        cleanupAll();
        process.exit(130);
      });
    }
  }
  run(undefined, ['ip', 'netns', 'add', name]);
  created.add(name);
  run(name, ['ip', 'link', 'set', 'lo', 'up']);
  return name;
}

export function deleteNamespace(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
  created.delete(name);
}

/**
 * Drops `percent` % of the packets entering `ns` (INPUT hook: after the veth, before the socket),
 * replacing any drop rule set before. 0 removes the rule. numgen draws per packet.
 */
export function setInputLoss(ns: string, percent: number): void {
  spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'fwloss']);
  if (percent <= 0) return;
  const perMillion = Math.round(percent * 10_000);
  run(ns, ['nft', '-f', '-'], `table inet fwloss {\n  chain input {\n    type filter hook input priority 0;\n    numgen random mod 1000000 < ${perMillion} drop\n  }\n}\n`);
}

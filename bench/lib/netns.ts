/**
 * Network namespaces for benchmarks that need real packet loss: created by the run itself, named
 * with the run's pid so parallel runs never collide, and removed at exit (also on SIGINT/SIGTERM).
 * Needs root and iproute2; nftables drops packets (netem is not in every kernel).
 */

import { execFileSync, spawnSync } from 'node:child_process';

/** Why this machine cannot run namespace benchmarks, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and nftables)';
  for (const tool of ['ip', 'nft', 'ethtool']) {
    if (spawnSync('which', [tool]).status !== 0) return `needs ${tool} (Debian: iproute2, nftables, ethtool)`;
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

/** Connects two namespaces with a veth pair: `a` gets addrA, `b` gets addrB (both /24). Returns the device names. */
export function connectNamespaces(a: string, b: string, addrA: string, addrB: string, tag: string): { devA: string; devB: string } {
  // Interface names are at most 15 bytes.
  const devA = `fwa${tag}`.slice(0, 15);
  const devB = `fwb${tag}`.slice(0, 15);
  run(undefined, ['ip', 'link', 'add', devA, 'netns', a, 'type', 'veth', 'peer', 'name', devB, 'netns', b]);
  run(a, ['ip', 'addr', 'add', `${addrA}/24`, 'dev', devA]);
  run(b, ['ip', 'addr', 'add', `${addrB}/24`, 'dev', devB]);
  run(a, ['ip', 'link', 'set', devA, 'up']);
  run(b, ['ip', 'link', 'set', devB, 'up']);
  return { devA, devB };
}

/** The offloads that merge or split packets (a drop would remove a whole aggregate). */
export const SEGMENTATION_OFFLOADS = ['tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload', 'large-receive-offload', 'tx-udp-segmentation', 'rx-gro-list', 'rx-udp-gro-forwarding'] as const;

const ETHTOOL_SHORT: Record<string, string> = {
  'tcp-segmentation-offload': 'tso',
  'generic-segmentation-offload': 'gso',
  'generic-receive-offload': 'gro',
  'large-receive-offload': 'lro',
  'tx-udp-segmentation': 'tx-udp-segmentation',
  'rx-gro-list': 'rx-gro-list',
  'rx-udp-gro-forwarding': 'rx-udp-gro-forwarding',
};

/**
 * Turns the segmentation offloads of `dev` off with ethtool; returns which were on before and
 * which are still on after (a feature marked [fixed] cannot be changed).
 */
export function disableOffloads(ns: string, dev: string): { wereOn: string[]; stillOn: string[] } {
  const state = (): Map<string, boolean> => {
    const out = run(ns, ['ethtool', '-k', dev]);
    const m = new Map<string, boolean>();
    for (const line of out.split('\n')) {
      const match = /^\s*([\w-]+):\s+(on|off)/.exec(line);
      if (match !== null) m.set(match[1]!, match[2] === 'on');
    }
    return m;
  };
  const before = state();
  const wereOn = SEGMENTATION_OFFLOADS.filter((f) => before.get(f) === true);
  for (const f of wereOn) spawnSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, ETHTOOL_SHORT[f]!, 'off']);
  const after = state();
  return { wereOn, stillOn: SEGMENTATION_OFFLOADS.filter((f) => after.get(f) === true) };
}

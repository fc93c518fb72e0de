/**
 * The QUIC library comparison of issue 18, reproducible: each library × scenario runs as a child
 * process in a network namespace of its own (see probe.ts), with a deadline, and its exit status
 * is part of the result (an uncaught library error ends the child: that is a finding, not noise).
 *
 *   npm install --no-save @matrixai/quic@2.0.9   # the second candidate is not a dependency
 *   tsx bench/quic-libraries/run.ts [--megabytes 128] [--repeats 3]
 *
 * Needs root (namespaces, nftables). Writes bench/results/quic-libraries.json.
 */

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNamespace, deleteNamespace, netnsUnavailable, setInputLoss } from '../lib/netns.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const megabytes = option('megabytes', 128);
const repeats = option('repeats', 3);
const DEADLINE_MS = 60_000;
const probe = fileURLToPath(new URL('./probe.ts', import.meta.url));

interface Row {
  library: string;
  scenario: string;
  exit: number | string;
  stderrTail: string;
  wallMs: number;
  result: Record<string, unknown> | undefined;
}

function runProbe(ns: string, library: string, scenario: string, mb: number): Promise<Row> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', probe, library, scenario, String(mb)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      resolve({
        library,
        scenario,
        exit: signal === 'SIGKILL' ? `killed after ${DEADLINE_MS} ms (hang)` : (code ?? String(signal)),
        // The first error line says what escaped (an uncaught library error ends the child).
        stderrTail: (err.split('\n').find((l) => /Error/.test(l) && !l.startsWith('INFO')) ?? err.trim().split('\n').slice(-2).join(' | ')).slice(0, 300),
        wallMs: Math.round(performance.now() - t0),
        result: line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>),
      });
    });
  });
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why !== undefined) {
    console.log(`quic-libraries: skipped, ${why}`);
    return;
  }
  const libraries = ['quinn', 'quiche'];
  const rows: Row[] = [];
  let n = 0;
  for (const library of libraries) {
    for (const [scenario, loss, mb] of [['throughput', 0, megabytes], ['loss', 1, megabytes / 4], ['eperm', 0, megabytes], ['forceclose', 0, megabytes]] as const) {
      for (let r = 0; r < (scenario === 'throughput' ? repeats : 1); r++) {
        const ns = createNamespace(`fw-qlib-${process.pid}-${n++}`);
        setInputLoss(ns, loss);
        const row = await runProbe(ns, library, scenario, mb);
        deleteNamespace(ns);
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  }
  const out = fileURLToPath(new URL('../results/quic-libraries.json', import.meta.url));
  writeFileSync(out, `${JSON.stringify({ when: new Date().toISOString(), node: process.version, megabytes, rows }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();

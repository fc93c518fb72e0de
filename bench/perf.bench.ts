/**
 * `framewire perf` against `framewire serve --perf` on loopback, both as the real CLI processes a
 * user would run (src/cli/bin.ts through tsx), so the command, the server's benchmark kinds and their
 * reports stay working (CI runs the smoke size). The figures are what `framewire perf` prints; the
 * interleaved comparison against baselines is bench/e2e's job.
 *
 *   npm run bench:perf                 four runs of 5 s: bench/results/perf.json
 *   npm run bench:perf -- --smoke      the same four, 300 ms or a few MiB each: bench/results/perf.tmp.json
 *   npm run bench:perf -- --commit     the full run, and its table into bench/README.md (npm run bench:commit)
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PerfResult } from '../src/perf/index.ts';
import { demoteHeadings, writeReadmeBlock } from './lib/readme-block.ts';
import { benchArgs, describeMachine, formatNumber, machineInfo, markdownTable, writeResults } from './lib/report.ts';

/** The CLI from the sources, through tsx, as `npm run cli` runs it. */
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'bin.ts');
const { smoke } = benchArgs();
const commit = process.argv.includes('--commit');
if (commit && smoke) throw new RangeError('--commit writes the committed figures: it cannot be a --smoke run');

interface Run {
  readonly name: string;
  readonly args: readonly string[];
}

const length = smoke ? ['-t', '300ms'] : ['-t', '5s'];
const runs: readonly Run[] = [
  { name: '1 stream, 64 KiB messages, client → server', args: [...length] },
  { name: '8 streams, 64 KiB messages, client → server', args: ['-P', '8', ...length] },
  { name: '1 stream, 64 KiB messages, server → client', args: ['-R', ...length] },
  { name: '1 stream, 64-byte messages, client → server', args: ['-l', '64', ...length] },
];

function startServer(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--perf', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`framewire serve did not start within 30 s: ${out}`));
    }, 30_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`framewire serve exited with ${code}: ${out}`));
    });
  });
}

function perf(port: number, args: readonly string[]): Promise<PerfResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'perf', '--target', `127.0.0.1:${port}`, '--json', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`framewire perf ${args.join(' ')} exited with ${code}`));
      else resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as PerfResult);
    });
  });
}

const machine = machineInfo();
const startedAt = new Date();
const dataDir = mkdtempSync(join(tmpdir(), 'fw-bench-perf-'));
const server = await startServer(dataDir);
const results: { name: string; args: readonly string[]; result: PerfResult }[] = [];
try {
  for (const run of runs) {
    const result = await perf(server.port, run.args);
    results.push({ ...run, result });
    process.stderr.write(`  ${run.name.padEnd(46)} ${formatNumber(result.mbPerSec)} MB/s\n`);
  }
} finally {
  server.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
}

const us = (n: number | undefined): string => (n === undefined ? 'n/a' : formatNumber(n));
const rows = results.map(({ name, result: r }) => [
  name,
  formatNumber(r.mbPerSec),
  formatNumber(r.messagesPerSec),
  r.client.cpuSecPerGiB.toFixed(2),
  r.server === undefined ? 'n/a' : r.server.cpuSecPerGiB.toFixed(2),
  r.server === undefined ? 'n/a' : formatNumber(r.server.cpuNsPerMessage),
  `${us(r.latency.echoIdle?.p50Us)} / ${us(r.latency.echoLoaded?.p50Us)} / ${us(r.latency.echoLoaded?.p99Us)}`,
  `${us(r.latency.pingIdle?.p50Us)} / ${us(r.latency.pingLoaded?.p50Us)} / ${us(r.latency.pingLoaded?.p99Us)}`,
]);
const markdown = [
  `## framewire perf against framewire serve --perf (loopback)`,
  `${describeMachine(machine)}. Both as CLI processes, unpinned; one run each${smoke ? ' (SMOKE RUN: the figures mean nothing)' : ''}.`,
  markdownTable(['run', 'MB/s', 'messages/s', 'client CPU s/GiB', 'server CPU s/GiB', 'server CPU ns/msg', 'echo µs idle p50 / load p50 / load p99', 'PING µs idle p50 / load p50 / load p99'], rows),
].join('\n\n');
const path = writeResults('perf', smoke, { machine, results });
if (commit) {
  const lead = `Committed run: \`npm run bench:perf -- --commit\`, started ${startedAt.toISOString().slice(0, 16)}Z; the same run wrote \`bench/results/perf.json\`.`;
  writeReadmeBlock('perf-results', `${lead}\n\n${demoteHeadings(markdown, 1)}`);
}
process.stdout.write(`${markdown}\n\nResults: ${path}${commit ? ', and bench/README.md' : ''}\n`);

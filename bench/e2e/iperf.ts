/**
 * iperf3 over loopback: the kernel's TCP limit on this machine, measured in the same run and
 * interleaved with the other contenders of the throughput cases. iperf3 is a C program that writes
 * 128 KiB buffers (its default) and reads them without looking at them: no framing, no copies in
 * user space beyond the read. Debian package `iperf3`; `.ci/run` installs it best-effort, and
 * without it the rows say so and the run goes on.
 *
 * iperf3 has no "port 0": a free loopback port is found by listening on port 0 and closing, and the
 * rare race with another process taking it meanwhile is retried.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import type { CpuSeconds } from './common.ts';

export interface IperfSample {
  readonly seconds: number;
  readonly bytes: number;
  readonly clientCpu: CpuSeconds;
  readonly serverCpu: CpuSeconds;
}

/** The `iperf3 --version` line, or undefined when iperf3 cannot run here. */
export function iperf3Version(): string | undefined {
  try {
    return execFileSync('iperf3', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** `taskset -c <cpu> cmd …` when pinned, else `cmd …`. */
function pinned(cpu: number | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return cpu === undefined ? [cmd, [...args]] : ['taskset', ['-c', String(cpu), cmd, ...args]];
}

/** Starts `iperf3 -s -1` (one test, then exit) and resolves once it listens. */
function startServer(port: number, cpu: number | undefined): Promise<ChildProcess> {
  const [cmd, args] = pinned(cpu, 'iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port), '--forceflush']);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`iperf3 server did not start within 10 s: ${out.trim()}`));
    }, 10_000);
    const onData = (c: Buffer): void => {
      out += c.toString('utf8');
      if (!out.includes('Server listening')) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`iperf3 server exited with ${code}: ${out.trim()}`));
    });
  });
}

interface IperfJson {
  readonly error?: string;
  readonly end?: {
    readonly sum_sent?: { readonly bytes: number; readonly seconds: number };
    readonly sum_received?: { readonly bytes: number; readonly seconds: number };
    readonly cpu_utilization_percent?: {
      readonly host_user: number;
      readonly host_system: number;
      readonly remote_user: number;
      readonly remote_system: number;
    };
  };
}

/** iperf3 reports CPU as a percentage of one core over the test: back to CPU seconds. */
function cpuSeconds(userPct: number, systemPct: number, seconds: number): CpuSeconds {
  const user = (userPct / 100) * seconds;
  const system = (systemPct / 100) * seconds;
  return { user, system, total: user + system };
}

function runClient(port: number, bytes: number, streams: number, cpu: number | undefined): Promise<IperfSample> {
  const [cmd, args] = pinned(cpu, 'iperf3', ['-c', '127.0.0.1', '-p', String(port), '-n', String(bytes), '-P', String(streams), '-J']);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill(), 120_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      let json: IperfJson;
      try {
        json = JSON.parse(text) as IperfJson;
      } catch {
        reject(new Error(`iperf3 client exited with ${code}: ${text.trim().slice(0, 300)}`));
        return;
      }
      const sent = json.end?.sum_sent;
      const received = json.end?.sum_received;
      const cpuPct = json.end?.cpu_utilization_percent;
      if (json.error !== undefined || sent === undefined || received === undefined || cpuPct === undefined) {
        reject(new Error(`iperf3 client: ${json.error ?? 'no summary in its output'}`));
        return;
      }
      // The receiver's view, as iperf3 prints it ("receiver"): bytes that arrived over the time they took.
      resolve({
        seconds: received.seconds,
        bytes: received.bytes,
        clientCpu: cpuSeconds(cpuPct.host_user, cpuPct.host_system, sent.seconds),
        serverCpu: cpuSeconds(cpuPct.remote_user, cpuPct.remote_system, received.seconds),
      });
    });
  });
}

/**
 * One iperf3 run of `bytes` in total over `streams` parallel TCP connections, the server on CPU
 * `serverCpu` and the client on `clientCpu` when given (as the node contenders are pinned).
 */
export async function runIperf3(bytes: number, streams: number, serverCpu?: number, clientCpu?: number): Promise<IperfSample> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let server: ChildProcess;
    try {
      server = await startServer(port, serverCpu);
    } catch (error) {
      // Most likely the port was taken between freePort() and iperf3's bind: try another.
      lastError = error;
      continue;
    }
    try {
      return await runClient(port, bytes, streams, clientCpu);
    } finally {
      if (server.exitCode === null) server.kill();
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

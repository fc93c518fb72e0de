/**
 * The end-to-end benchmark's child processes: one server and one client per protocol (node
 * --import tsx, loopback), spoken to over IPC, optionally pinned to a CPU each.
 */

import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult, CaseSpec, ChildMessage, CpuSeconds, ParentMessage, Protocol } from './common.ts';
import { PROFILE_WINDOW_ENV } from './window-profile.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Two CPUs and taskset (util-linux) to pin the processes to them. */
export function canPin(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * glibc gives the top of its heap back to the kernel once more than M_TRIM_THRESHOLD (128 KiB) is
 * free there. A process whose live heap is small, such as the raw node:net receiver, then frees
 * each 64 KiB read buffer into a trim and page-faults 16 fresh pages into the next one: perf showed
 * 20-35 % of its CPU in page faults under the read's copy, and its system time per GiB doubling or
 * halving with heap history (0.2-0.9 s/GiB between runs of the same code). Every node contender
 * runs with the threshold raised, so the comparison measures protocols, not allocator state.
 */
export const STEADY_HEAP_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024) };

/** CPU of the server (0) and of the client (1) when pinned. */
export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

export class Child {
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #first: Promise<ChildMessage>;

  constructor(script: string, proto: Protocol, execArgv: readonly string[], cpu: number | undefined, env: Readonly<Record<string, string>>) {
    this.#proc = fork(join(HERE, script), [proto], { execArgv: ['--import', 'tsx', ...execArgv], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    if (cpu !== undefined && this.#proc.pid !== undefined) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(this.#proc.pid)], { stdio: 'ignore' });
    this.#first = new Promise((resolve, reject) => {
      this.#proc.once('message', (m) => {
        resolve(m as ChildMessage);
      });
      this.#proc.once('exit', (code) => {
        reject(new Error(`${script} ${proto} exited with ${code}`));
      });
    });
    this.#proc.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (!('id' in m)) return;
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.type === 'error') p.reject(new Error(m.message));
      else p.resolve(m);
    });
    this.#proc.on('error', () => undefined);
    this.#proc.on('exit', (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${script} ${proto} exited with ${code}`));
      this.#pending.clear();
    });
  }

  /** The child's first message: `listening` (server) or `ready` (client). */
  started(): Promise<ChildMessage> {
    return this.#first;
  }

  request(m: { cmd: 'run'; port: number; spec: CaseSpec } | { cmd: 'cpu-mark' } | { cmd: 'cpu-read' }): Promise<ChildMessage> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (!this.#proc.connected) {
        reject(new Error('the child process is gone'));
        return;
      }
      this.#pending.set(id, { resolve, reject });
      this.#proc.send({ ...m, id }, (error) => {
        if (error === null) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || !this.#proc.connected) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    this.#proc.send({ cmd: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#proc.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

export interface Pair {
  readonly server: Child;
  readonly client: Child;
  readonly port: number;
}

export interface PairOptions {
  /** --cpu-prof of framewire's whole processes into <dir>/{server,client}. */
  readonly profileDir: string | undefined;
  /** Profiles of framewire's measured runs only into <dir>/{server,client} (window-profile.ts). */
  readonly profileWindowDir: string | undefined;
  readonly pin: boolean;
  readonly heapTrim: boolean;
}

export async function startPair(proto: Protocol, o: PairOptions): Promise<Pair> {
  const prof = (role: string): string[] =>
    o.profileDir !== undefined && proto === 'framewire' ? ['--cpu-prof', `--cpu-prof-dir=${join(o.profileDir, role)}`] : process.env['FW_TRACE_GC'] === '1' ? ['--trace-gc'] : [];
  const pin = o.pin;
  const env = (role: string): Record<string, string> => ({
    ...(o.heapTrim ? {} : STEADY_HEAP_ENV),
    ...(o.profileWindowDir !== undefined && proto === 'framewire' ? { [PROFILE_WINDOW_ENV]: join(o.profileWindowDir, role) } : {}),
  });
  const server = new Child('server.ts', proto, prof('server'), pin ? SERVER_CPU : undefined, env('server'));
  const client = new Child('client.ts', proto, prof('client'), pin ? CLIENT_CPU : undefined, env('client'));
  const [listening] = await Promise.all([server.started(), client.started()]);
  if (listening.type !== 'listening') throw new Error(`server ${proto}: unexpected ${listening.type}`);
  return { server, client, port: listening.port };
}

/** One measured run: the client's result and the server's CPU over it. */
export interface Sample extends CaseResult {
  readonly serverCpu: CpuSeconds;
}

export async function runOnce(pair: Pair, spec: CaseSpec): Promise<Sample> {
  await pair.server.request({ cmd: 'cpu-mark' });
  const r = await pair.client.request({ cmd: 'run', port: pair.port, spec });
  const c = await pair.server.request({ cmd: 'cpu-read' });
  if (r.type !== 'result' || c.type !== 'cpu') throw new Error('unexpected reply from a child');
  return { ...r.result, serverCpu: c.cpu };
}

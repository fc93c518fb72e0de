/**
 * The real `framewire` CLI as a child process: its exit code, stdout and stderr lines, and how long
 * it ran; every run is bounded in time and killed if it outlives its bound.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything printed so far. */
  stdout: string;
  stderr: string;
  readonly done: Promise<CliRun>;
}

/** Starts `framewire ...args` with `env` added to the test's environment. */
export function startCli(args: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 60_000): RunningCli {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const run: RunningCli = {
    child,
    stdout: '',
    stderr: '',
    done: new Promise<CliRun>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: run.stdout, stderr: run.stderr, ms: performance.now() - started });
      });
    }),
  };
  child.stdout.on('data', (d: Buffer) => { run.stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { run.stderr += d.toString(); });
  return run;
}

export function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return startCli(args, env, timeoutMs).done;
}

/** The JSON lines of `text` that parse, with their `event`. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A partial line: not yet complete.
    }
  }
  return out;
}

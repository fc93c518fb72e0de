/**
 * `framewire serve` as a child process, for tests that need the real thing: started with the flags
 * given on a free port in a temporary data directory, its stderr (pino JSON at --log-level) kept,
 * its exit observed, always stopped (SIGTERM, then SIGKILL) and cleaned up.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The CLI from the sources, through tsx (the tests never read dist/). */
const bin = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

/** How long start() waits for the "listening" line before it gives up. */
const START_BACKSTOP_MS = 120_000;

export class ServeProcess {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'framewire-serve-'));
  readonly stderrLines: string[] = [];
  port = 0;
  /** Set once the process exited: its code or signal. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #child: ChildProcess | undefined;

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(flags: readonly string[], logLevel = 'error'): Promise<number> {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, '--log-level', logLevel, 'serve', '--port', '0', '--data-dir', this.dataDir, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.once('exit', (code, signal) => {
      this.exit = { code, signal };
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      // Bounded: a flood of log lines must not become the test's own memory problem.
      if (this.stderrLines.length < 10_000) this.stderrLines.push(line);
    });
    const port = await new Promise<number>((resolve, reject) => {
      // A backstop against a hang: the wait is for the "listening" line (or the exit). Loading the
      // CLI through tsx took more than 30 s at nice 19 beside three busy loops; the caller's test
      // timeout must cover this.
      const timer = setTimeout(() => {
        reject(new Error(`framewire serve did not start within ${START_BACKSTOP_MS} ms`));
      }, START_BACKSTOP_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`framewire serve exited (${String(code)}) before listening: ${this.stderrLines.join('\n')}`));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /listening on [^:]+:(\d+)/.exec(line);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    this.port = port;
    return port;
  }

  /** Lines of stderr at pino level `level` or above (50 = error). */
  logsAtLeast(level: number): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.stderrLines) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed['level'] === 'number' && parsed['level'] >= level) out.push(parsed);
      } catch {
        // Not JSON: not a log line.
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child !== undefined && this.exit === undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

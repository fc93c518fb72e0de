/**
 * A redis-server of our own (Debian's binary): on a free loopback port with a temporary directory,
 * stopped by its pid. `framewire demo --cluster` starts one when not given a Redis, and the tests
 * and benchmarks of the Redis stores start theirs with it (test/redis/server.ts).
 *
 * It dies with the process that started it, even when that process is SIGKILLed (a vitest worker
 * killed, a CI timeout): it is started through `setpriv --pdeathsig KILL` (util-linux, Essential
 * on Debian), which sets prctl(PR_SET_PDEATHSIG) and then execs redis-server in the same process,
 * so the pid we hold, and signal, is redis-server's own. Where setpriv is missing (not Linux) it
 * is started without that guard. Its directory is left behind then, so each start first removes
 * the directories of servers whose users are all dead (redis-server-dirs.ts).
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordRedisDirOwner, redisDirPrefix, sweepDeadRedisDirs } from './redis-server-dirs.ts';

/** The redis-server binary on the PATH, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'redis-server' : undefined;
}

let parentDeathGuard: readonly string[] | undefined;

/** The command that runs redis-server so that the kernel SIGKILLs it when its parent dies (or nothing). */
function deathGuard(): readonly string[] {
  parentDeathGuard ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
  return parentDeathGuard;
}

export interface RedisServerOptions {
  /** Append-only file, fsync at every write: a restart keeps every acknowledged change. Default false (no persistence). */
  readonly persistent?: boolean;
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #persistent: boolean;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, persistent: boolean) {
    this.port = port;
    this.dir = dir;
    this.#persistent = persistent;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    await sweepDeadRedisDirs();
    const dir = await mkdtemp(join(tmpdir(), redisDirPrefix));
    let lastError: unknown;
    // The port is free when asked and taken by redis-server a moment later: retry a taken one.
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort(), dir, options.persistent ?? false);
      try {
        await server.#spawn();
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(force);
  }

  /** Kills the server (SIGKILL: a crash, nothing flushed on the way out) and waits for it to exit; `restart` starts it again. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops and starts it again on the same port and directory (what it kept depends on `persistent`). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--logfile', ''];
    args.push(...(this.#persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    const [command = 'redis-server', ...commandArgs] = [...deathGuard(), 'redis-server', ...args];
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error(`redis-server did not become ready in 10 s:\n${output}`)); }, 10_000);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      child.stdout.on('data', (b: Buffer) => {
        output += b.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
      child.once('exit', (code) => { fail(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)); });
      child.once('error', fail);
    });
    child.stdout.removeAllListeners('data');
    child.stdout.resume();
    child.stderr.resume();
    // Unrecorded, the directory is only never swept: not a reason to fail a server that runs.
    if (child.pid !== undefined) await recordRedisDirOwner(this.dir, child.pid).catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => { resolve(port); });
    });
  });
}

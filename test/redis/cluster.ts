/**
 * A framewire cluster for tests: server nodes as child processes of the real CLI
 * (`framewire serve --redis URL --data-dir DIR`), sharing a redis-server and a chunk directory.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { within } from '../integration/helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'bin.ts');

export interface Node {
  readonly child: ChildProcess;
  readonly port: number;
}

/** Starts `framewire serve --redis` (or, with no Redis URL, a lone `framewire serve`) on a free port; resolves once it listens. */
export async function startNode(redisUrl: string | undefined, dataDir: string): Promise<Node> {
  const redis = redisUrl === undefined ? [] : ['--redis', redisUrl];
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0', ...redis, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const lines = createInterface({ input: child.stdout });
  const port = new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /^framewire listening on [^ ]+:(\d+) /.exec(line);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once('exit', (code) => { reject(new Error(`framewire serve exited with ${code}: ${stderr}`)); });
  });
  return { child, port: await within(port, 30_000, `framewire serve${redisUrl === undefined ? '' : ' --redis'} start`) };
}

/** Stops a node: SIGKILL (a crash) or SIGTERM (graceful); waits for its exit. */
export async function stopNode(node: Node, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const { child } = node;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  child.kill(signal);
  await within(exited, 15_000, `node ${signal}`);
}

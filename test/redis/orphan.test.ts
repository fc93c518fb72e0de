/**
 * A redis-server we started dies with the process that started it, even when that process is
 * SIGKILLed and has no chance to stop it (a vitest worker killed, a CI timeout, Ctrl-C of a
 * bench): before, it lived on for ever. And the pid RedisServer holds (and RedisServer.kill and the
 * SIGSTOP tests signal) is redis-server's own, not a wrapper's.
 * Cost: two redis-servers and one node child: about 2 s.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RedisServer, redisServerBinary } from './server.ts';

/** The command name of a live process, or undefined once it is gone (or a zombie: dead, not yet reaped). */
function processName(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' ? undefined : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return undefined;
  }
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (processName(pid) === undefined) return true;
    await sleep(50);
  }
  return processName(pid) === undefined;
}

describe.skipIf(redisServerBinary === undefined)('a redis-server of our own', () => {
  it('holds redis-server\'s own pid: kill() ends the server itself', async () => {
    const redis = await RedisServer.start();
    try {
      const pid = redis.pid ?? 0;
      expect(processName(pid)).toBe('redis-server');
      await redis.kill();
      expect(processName(pid)).toBeUndefined();
    } finally {
      await redis.destroy();
    }
  });

  it('dies within 5 s when the process that started it is SIGKILLed', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'redis-parent.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    let started: { pid: number; dir: string } | undefined;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: parent.stdout }).once('line', resolve);
        parent.once('exit', (code) => { reject(new Error(`the parent exited (${String(code)}) before it started redis-server`)); });
      });
      started = JSON.parse(line) as { pid: number; dir: string };
      expect(processName(started.pid)).toBe('redis-server');
      parent.kill('SIGKILL');
      await exited;
      expect(await goneWithin(started.pid, 5000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      // Only if the guard failed: the orphan is ours to end.
      if (started !== undefined && processName(started.pid) === 'redis-server') process.kill(started.pid, 'SIGKILL');
      if (started !== undefined) await rm(started.dir, { recursive: true, force: true });
    }
  });
});

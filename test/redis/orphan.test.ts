/**
 * A redis-server we started dies with the process that started it, even when that process is
 * SIGKILLed and has no chance to stop it (a vitest worker killed, a CI timeout, Ctrl-C of a
 * bench): before, it lived on for ever. And the pid RedisServer holds (and RedisServer.kill and the
 * SIGSTOP tests signal) is redis-server's own, not a wrapper's. Its /tmp/fw-redis-* directory,
 * left behind then, is removed by the next RedisServer.start(); a directory is removed only when
 * it is provably ours and its owner and redis-server are both dead.
 * Cost: four redis-servers and two short node children: about 3 s.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { sweepDeadRedisDirs } from '../../src/cli/redis-server-dirs.ts';
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
      expect(existsSync(started.dir)).toBe(true);
      // The next start removes the dead server's directory, and not a live one's.
      const live = await RedisServer.start();
      const next = await RedisServer.start();
      try {
        expect(existsSync(started.dir)).toBe(false);
        expect(existsSync(live.dir)).toBe(true);
        expect(processName(live.pid ?? 0)).toBe('redis-server');
      } finally {
        await next.destroy();
        await live.destroy();
      }
    } finally {
      parent.kill('SIGKILL');
      // Only if the guard failed: the orphan is ours to end.
      if (started !== undefined && processName(started.pid) === 'redis-server') process.kill(started.pid, 'SIGKILL');
      if (started !== undefined) await rm(started.dir, { recursive: true, force: true });
    }
  });

  it('keeps the directory of a killed redis-server whose RedisServer lives on (it may restart there)', async () => {
    const redis = await RedisServer.start();
    try {
      await redis.kill();
      const next = await RedisServer.start();
      await next.destroy();
      expect(existsSync(redis.dir)).toBe(true);
      await redis.restart();
      expect(processName(redis.pid ?? 0)).toBe('redis-server');
    } finally {
      await redis.destroy();
    }
  });
});

describe('sweeping the directories of dead redis-servers', () => {
  /** The pid of a process that has exited and been reaped. */
  async function deadPid(): Promise<number> {
    const child = spawn('true');
    await new Promise((resolve) => child.once('exit', resolve));
    return child.pid ?? 0;
  }

  it('removes only directories recorded as ours whose owner and redis-server are both dead', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'fw-sweep-test-'));
    try {
      const dead = { pid: await deadPid(), start: '0' };
      const me = { pid: process.pid, start: readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[19] };
      const dirs = {
        bothDead: { owner: dead, redis: dead },
        ownerAlive: { owner: me, redis: dead },
        redisAlive: { owner: dead, redis: me },
        // This process's pid with another start time: a reused pid, so not the recorded process.
        pidReused: { owner: { pid: process.pid, start: '1' }, redis: dead },
        unrecorded: undefined,
        garbled: 'not json',
      };
      for (const [name, record] of Object.entries(dirs)) {
        const dir = join(parent, `fw-redis-${name}`);
        await mkdir(dir);
        await writeFile(join(dir, 'dump'), 'x');
        if (record !== undefined) await writeFile(join(dir, 'framewire-owner.json'), typeof record === 'string' ? record : JSON.stringify(record));
      }
      await mkdir(join(parent, 'other-bothDead'));
      await writeFile(join(parent, 'other-bothDead', 'framewire-owner.json'), JSON.stringify(dirs.bothDead));

      const removed = await sweepDeadRedisDirs(parent);

      expect(removed.sort()).toEqual([join(parent, 'fw-redis-bothDead'), join(parent, 'fw-redis-pidReused')]);
      for (const name of ['ownerAlive', 'redisAlive', 'unrecorded', 'garbled']) expect(existsSync(join(parent, `fw-redis-${name}`))).toBe(true);
      expect(existsSync(join(parent, 'other-bothDead'))).toBe(true);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

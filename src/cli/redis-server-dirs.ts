/**
 * The temporary directories of our redis-servers (/tmp/fw-redis-*) do not pile up when the process
 * that started one is SIGKILLed: the server dies with it (the pdeathsig guard in redis-server.ts)
 * but nothing is left to remove the directory. So each directory records who uses it, and the next
 * RedisServer.start() removes the directories whose users are provably all dead.
 *
 * A directory is removed only when it holds our record (written by us, so ours), the record's
 * owner (the node process holding the RedisServer, which may restart redis in it) is dead, and so
 * is the recorded redis-server (which keeps writing there without the guard). A process is the
 * recorded one only if it has the recorded start time too (/proc/<pid>/stat), so a reused pid is
 * not mistaken for it. A directory without the record (another tool's, an older framewire's, or
 * one whose server was not ready yet) is never touched.
 */

import { readFileSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processExists } from '../process-exists.ts';

export const redisDirPrefix = 'fw-redis-';
const recordName = 'framewire-owner.json';

interface ProcessId {
  readonly pid: number;
  /** Start time in clock ticks after boot (/proc/<pid>/stat field 22); undefined where /proc is not. */
  readonly start: string | undefined;
}

interface OwnerRecord {
  readonly owner: ProcessId;
  readonly redis: ProcessId;
}

/** Start time in clock ticks after boot (/proc/<pid>/stat field 22), or 'dead' for a zombie (exited, not yet reaped); undefined without /proc. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? 'dead' : fields[19];
  } catch {
    return undefined;
  }
}

function processId(pid: number): ProcessId {
  return { pid, start: startTime(pid) };
}

function isAlive(id: ProcessId): boolean {
  if (!processExists(id.pid)) return false;
  if (id.start === undefined) return true;
  const now = startTime(id.pid);
  return now !== 'dead' && now === id.start;
}

/** Records in `dir` that this process and redis-server `redisPid` use it (atomically: a reader sees all of it or none). */
export async function recordRedisDirOwner(dir: string, redisPid: number): Promise<void> {
  const record: OwnerRecord = { owner: processId(process.pid), redis: processId(redisPid) };
  const partial = join(dir, `${recordName}.partial`);
  await writeFile(partial, JSON.stringify(record));
  await rename(partial, join(dir, recordName));
}

async function readRecord(dir: string): Promise<OwnerRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, recordName), 'utf8')) as Partial<OwnerRecord>;
    const valid = (id: ProcessId | undefined): id is ProcessId => typeof id?.pid === 'number' && Number.isInteger(id.pid) && id.pid > 0;
    return valid(parsed.owner) && valid(parsed.redis) ? { owner: parsed.owner, redis: parsed.redis } : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the fw-redis-* directories (under `parent`, default the OS temp dir) whose owner and redis-server are both dead; returns their paths. Never throws. */
export async function sweepDeadRedisDirs(parent: string = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(parent)).filter((n) => n.startsWith(redisDirPrefix));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(parent, name);
    const record = await readRecord(dir);
    if (record === undefined || isAlive(record.owner) || isAlive(record.redis)) continue;
    try {
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another sweeper removed it first, or it is not ours to remove: either way it is not our concern.
    }
  }
  return removed;
}

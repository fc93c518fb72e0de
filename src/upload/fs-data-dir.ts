/**
 * Claiming a data directory for the file-system upload store (spec/UPLOAD.md §11.9, FW-UP-63):
 * the store assumes one owner — its compare-and-set is a version check under an in-process lock —
 * so a server checks at start that the directory is usable and takes a lock file, instead of
 * starting, saying "listening" and failing every upload later with an opaque internal error.
 *
 * The check creates the directory, writes a probe file, fsyncs it and removes it. The lock file
 * (`<dir>/lock`, created exclusively) names the owner's pid and host; a lock whose process is gone
 * (same host, no such pid) is stale and taken over, so a killed server restarts without help.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processExists } from '../process-exists.ts';

export const LOCK_FILE = 'lock';

/** Why a data directory cannot be used: a message for a person, and the system error. */
export class DataDirError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataDirError';
  }
}

export interface DataDirClaim {
  /** Removes the lock file (once; later calls do nothing). */
  release(): Promise<void>;
}

/** Checks that `dir` is a writable, syncable directory and takes its lock; a DataDirError says why not. */
export async function claimDataDir(dir: string): Promise<DataDirClaim> {
  await probe(dir);
  const path = join(dir, LOCK_FILE);
  const me = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(`${JSON.stringify({ ...me, since: new Date().toISOString() })}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw usable(dir, error);
    }
    const owner = await readOwner(path);
    if (owner === undefined || owner.host !== me.host || owner.pid === me.pid || processExists(owner.pid)) {
      const who = owner === undefined ? 'another process' : `process ${owner.pid} on ${owner.host}${owner.pid === me.pid ? ' (this one)' : ''}`;
      throw new DataDirError(`data directory ${dir} is in use by ${who}: two servers must not share one (lock file ${path}; remove it if that process is gone)`);
    }
    // The owner died without removing its lock (SIGKILL, a crash): take the directory over.
    await rm(path, { force: true });
  }
  throw new DataDirError(`data directory ${dir}: the lock file ${path} keeps coming back; another server is starting on it`);
}

async function probe(dir: string): Promise<void> {
  const file = join(dir, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    const fh = await open(file, 'wx');
    try {
      await fh.writeFile('framewire data directory probe\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rm(file);
  } catch (error) {
    await rm(file, { force: true }).catch(() => undefined);
    throw usable(dir, error);
  }
}

function usable(dir: string, error: unknown): DataDirError {
  const e = error as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOTDIR: 'a path component is a regular file, not a directory',
    EEXIST: 'it exists and is not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
  };
  return new DataDirError(`data directory ${dir} is not usable: ${(e.code !== undefined ? why[e.code] : undefined) ?? e.message} (${e.code ?? 'error'})`, { cause: error });
}

async function readOwner(path: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown; host?: unknown };
    return typeof v.pid === 'number' && Number.isSafeInteger(v.pid) && typeof v.host === 'string' ? { pid: v.pid, host: v.host } : undefined;
  } catch {
    return undefined;
  }
}

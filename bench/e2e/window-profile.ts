/**
 * A CPU profile of the measured runs only, taken inside a benchmark child with the inspector: a
 * profile of the whole process (`--cpu-prof`) is mostly tsx loading modules, which would bury the
 * work of a one-gigabyte run. The orchestrator asks for it by naming a directory in the child's
 * environment (bench:commit does, for a missed target).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

export const PROFILE_WINDOW_ENV = 'FW_BENCH_PROFILE_WINDOW_DIR';

export class WindowProfiler {
  readonly #dir: string;
  #session: Session | undefined;
  #written = 0;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** A profiler when the orchestrator asked for one, else undefined. */
  static fromEnv(): WindowProfiler | undefined {
    const dir = process.env[PROFILE_WINDOW_ENV];
    return dir === undefined || dir === '' ? undefined : new WindowProfiler(dir);
  }

  async start(): Promise<void> {
    if (this.#session !== undefined) return;
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    this.#session = session;
  }

  /** Stops the profile and writes it as <dir>/<pid>-<n>.cpuprofile. */
  async stop(): Promise<void> {
    const session = this.#session;
    if (session === undefined) return;
    this.#session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(this.#dir, { recursive: true });
    writeFileSync(join(this.#dir, `${process.pid}-${++this.#written}.cpuprofile`), JSON.stringify(profile));
  }
}

/**
 * `framewire perf` and `serve --perf*` on the command line: bad usage exits 2 before any network,
 * a server without the benchmark kinds gets a hint, and a run prints its table or JSON. In-process
 * (main()), loopback; ~1 s.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { perfService } from '../../src/perf/index.ts';
import { Harness } from '../integration/helpers.ts';

const h = new Harness();
afterEach(async () => {
  vi.restoreAllMocks();
  await h.cleanup();
});

/** Runs the CLI in this process and returns its exit code and what it printed. */
async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('framewire perf', () => {
  it.each([
    [['perf'], 'no --target'],
    [['perf', '--target', '127.0.0.1:7070', '-t', '1s', '-n', '1MiB'], 'both --duration and --bytes'],
    [['perf', '--target', '127.0.0.1:7070', '-l', '17MiB'], 'a message above 16 MiB'],
    [['perf', '--target', '127.0.0.1:7070', '-P', '0'], 'zero streams'],
    [['perf', '--target', 'nowhere'], 'a target without a port'],
    [['serve', '--perf-max-bytes', '1GiB'], 'a perf limit without --perf'],
  ])('exits 2 on %j (%s)', async (args) => {
    expect((await cli(args)).code).toBe(2);
  });

  it('tells how to enable the kinds when the server does not offer them', async () => {
    const { port } = await h.server({});
    const r = await cli(['perf', '--target', `127.0.0.1:${port}`, '-n', '1KiB', '--probe-interval', '0']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('framewire serve --perf');
  });

  it('prints a table, and with --json the result', async () => {
    const { port } = await h.server({ services: [perfService()] });
    const table = await cli(['perf', '--target', `127.0.0.1:${port}`, '-n', '4MiB', '--probe-interval', '5ms', '--idle-probes', '2']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/data\s+4\.0 MiB/);
    expect(table.out).toContain('PING, idle');
    const json = await cli(['perf', '--target', `127.0.0.1:${port}`, '-R', '-n', '1MiB', '-l', '1000', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ direction: 'receive', bytes: 1024 * 1024, messageSize: 1000, streams: 1 });
  });
});

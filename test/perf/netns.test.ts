/**
 * `framewire perf` across a real (virtual) network: `framewire serve --perf` in one network
 * namespace, `framewire perf` in another, joined by a veth pair with 1 ms of netem delay each way
 * (when tc can add it), each side a real CLI process. Proves the command measures a path that is
 * not loopback: the idle round trip cannot be shorter than the delay.
 *
 * Needs root and iproute2 (`ip`); skipped loudly without them. Namespace and link names carry this
 * process's pid, so concurrent runs do not collide; everything is deleted afterwards.
 * Cost: three CLI processes, ~5-10 s.
 */

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PerfResult } from '../../src/perf/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI from the sources, through tsx (the tests never read dist/). */
const CLI = join(ROOT, 'src', 'cli', 'bin.ts');
const tag = `fwbt${process.pid}`;
const NS = { server: `${tag}-s`, client: `${tag}-c` };
const LINK = { server: `${tag}s`, client: `${tag}c` };
const ADDR = { server: '10.99.0.1', client: '10.99.0.2' };
const DELAY_MS = 1;

function run(cmd: string, args: readonly string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Why the namespaces cannot be made here, or undefined when they can. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'iproute2 (`ip`) is not installed';
  return undefined;
}

let skip = unavailable();
let delayed = false;
let dataDir = '';
let server: ChildProcess | undefined;

function setUp(): void {
  run('ip', ['netns', 'add', NS.server]);
  run('ip', ['netns', 'add', NS.client]);
  run('ip', ['link', 'add', LINK.server, 'type', 'veth', 'peer', 'name', LINK.client]);
  for (const side of ['server', 'client'] as const) {
    run('ip', ['link', 'set', LINK[side], 'netns', NS[side]]);
    run('ip', ['-n', NS[side], 'addr', 'add', `${ADDR[side]}/24`, 'dev', LINK[side]]);
    run('ip', ['-n', NS[side], 'link', 'set', LINK[side], 'up']);
    run('ip', ['-n', NS[side], 'link', 'set', 'lo', 'up']);
  }
  // A delay makes the path measurably not loopback; without tc or netem the test still runs.
  try {
    for (const side of ['server', 'client'] as const) run('ip', ['netns', 'exec', NS[side], 'tc', 'qdisc', 'add', 'dev', LINK[side], 'root', 'netem', 'delay', `${DELAY_MS}ms`]);
    delayed = true;
  } catch {
    process.stderr.write('[perf netns] tc/netem unavailable: running without the added delay\n');
  }
}

function tearDown(): void {
  for (const ns of [NS.client, NS.server]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** Starts `framewire serve --perf` in the server namespace; resolves with its port. */
function startServer(): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', NS.server, process.execPath, '--import', 'tsx', CLI, 'serve', '--perf', '--host', ADDR.server, '--port', '0', '--data-dir', join(dataDir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`serve did not start within 20 s: ${out}`));
    }, 20_000);
    const onData = (c: Buffer): void => {
      out += c.toString('utf8');
      const m = /listening on [\d.]+:(\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve(Number(m[1]));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
}

function perf(port: number, args: readonly string[]): Promise<PerfResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', NS.client, process.execPath, '--import', 'tsx', CLI, 'perf', '--target', `${ADDR.server}:${port}`, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill(), 30_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`perf exited with ${code}: ${Buffer.concat(err).toString('utf8')}`));
        return;
      }
      resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as PerfResult);
    });
  });
}

describe('framewire perf across two network namespaces', () => {
  beforeAll(() => {
    if (skip === undefined) {
      try {
        setUp();
      } catch (error) {
        tearDown();
        skip = `cannot create network namespaces: ${(error as Error).message.split('\n')[0] ?? ''}`;
      }
    }
    if (skip !== undefined) {
      process.stderr.write(`\n!!! [perf netns] SKIPPED: ${skip}\n\n`);
      return;
    }
    dataDir = mkdtempSync(join(tmpdir(), 'fw-perf-netns-'));
  });

  afterAll(async () => {
    const child = server;
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    tearDown();
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('measures both directions over a veth pair, with round trips no shorter than the link delay', { timeout: 90_000 }, async (ctx) => {
    if (skip !== undefined) {
      ctx.skip();
      return;
    }
    const port = await startServer();
    const up = await perf(port, ['-t', '1s', '-P', '2', '--probe-interval', '50ms', '--idle-probes', '5']);
    expect(up.target).toBe(`${ADDR.server}:${port}`);
    expect(up.direction).toBe('send');
    expect(up.bytes).toBeGreaterThan(0);
    expect(up.server?.cpuSeconds).toBeGreaterThan(0);
    expect(up.latency.pingIdle?.count).toBe(5);
    expect(up.latency.echoLoaded?.count).toBeGreaterThan(0);
    // Each direction crosses one netem qdisc: a round trip takes at least twice the delay.
    if (delayed) expect(up.latency.pingIdle!.minUs).toBeGreaterThanOrEqual(2 * DELAY_MS * 1000);

    const down = await perf(port, ['-R', '-n', '8MiB', '-l', '1000', '--probe-interval', '0']);
    expect(down.direction).toBe('receive');
    expect(down.bytes).toBe(8 * 1024 * 1024);
    expect(down.messages).toBe(Math.ceil((8 * 1024 * 1024) / 1000));
  });
});

/**
 * One probe of one QUIC library, run as a child process by run.ts (inside a network namespace, so
 * nftables rules touch nothing else). Prints one JSON line. Scenarios:
 * - throughput: one stream, 64 KiB writes, MB/s and process CPU (client and server in this process);
 * - loss: the same under the INPUT drop run.ts installed;
 * - eperm: an nftables drop on OUTPUT mid-transfer (sendmsg fails with EPERM): what the library does;
 * - forceclose: the server's forced close mid-transfer: how long it takes, what the client sees.
 * An uncaught exception is recorded by run.ts from the exit status: that is one of the findings.
 */

import { execFileSync } from 'node:child_process';
import { quichePair, quinnPair, type ProbePair } from './adapters.ts';

const [library, scenarioArg, megabytesArg] = process.argv.slice(2);
const scenario = scenarioArg ?? 'throughput';
const megabytes = Number(megabytesArg ?? '128');
const WRITE = 64 * 1024;

interface Result {
  library: string;
  scenario: string;
  bytes?: number;
  seconds?: number;
  mbPerSecond?: number;
  cpuPercent?: number;
  outcome?: string;
  closeMs?: number;
  clientNoticedMs?: number;
}

function emit(r: Result): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function transfer(pair: ProbePair, total: number, midway?: () => void): Promise<{ bytes: number; seconds: number; cpuPercent: number; error?: string }> {
  let received = 0;
  const { stream, serverDone } = await pair.openStream((n) => {
    received += n;
  });
  // Observed at once: a failed server read must not become an unhandled rejection before it is awaited.
  serverDone.catch(() => undefined);
  const payload = Buffer.alloc(WRITE, 7);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    let sent = 0;
    let fired = false;
    while (sent < total) {
      await stream.write(payload);
      sent += WRITE;
      if (!fired && midway !== undefined && sent >= total / 4) {
        fired = true;
        midway();
      }
    }
    await stream.finish();
    await serverDone;
  } catch (error) {
    const seconds = (performance.now() - t0) / 1000;
    return { bytes: received, seconds, cpuPercent: cpuPercent(cpu0, seconds), error: String(error) };
  }
  const seconds = (performance.now() - t0) / 1000;
  return { bytes: received, seconds, cpuPercent: cpuPercent(cpu0, seconds) };
}

function cpuPercent(start: NodeJS.CpuUsage, seconds: number): number {
  const u = process.cpuUsage(start);
  return Math.round(((u.user + u.system) / 1e6 / seconds) * 100);
}

async function main(): Promise<void> {
  const pair = library === 'quinn' ? await quinnPair() : await quichePair();
  const total = megabytes * 1024 * 1024;
  const base = { library: pair.library, scenario };
  switch (scenario) {
    case 'eperm': {
      const r = await transfer(pair, total, () => {
        execFileSync('nft', ['-f', '-'], { input: 'table inet fwprobe {\n  chain out {\n    type filter hook output priority 0;\n    meta l4proto udp drop\n  }\n}\n' });
      });
      emit({ ...base, bytes: r.bytes, seconds: r.seconds, outcome: r.error === undefined ? 'completed?' : `write rejected: ${r.error.slice(0, 160)}` });
      break;
    }
    case 'forceclose': {
      let closeMs = -1;
      let noticed = -1;
      const r = await transfer(pair, total, () => {
        const c0 = performance.now();
        void pair.clientClosed().then(
          () => (noticed = performance.now() - c0),
          () => (noticed = performance.now() - c0),
        );
        void pair.forceCloseServer().then(() => (closeMs = performance.now() - c0));
      });
      // Give a slow close up to 10 s to finish before reporting.
      for (let i = 0; i < 100 && closeMs < 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      emit({ ...base, seconds: r.seconds, outcome: r.error === undefined ? 'transfer completed' : `write rejected: ${r.error.slice(0, 160)}`, closeMs: Math.round(closeMs), clientNoticedMs: Math.round(noticed) });
      break;
    }
    default: {
      const r = await transfer(pair, total);
      emit({ ...base, bytes: r.bytes, seconds: round(r.seconds), mbPerSecond: round(r.bytes / 1e6 / r.seconds), cpuPercent: r.cpuPercent, ...(r.error === undefined ? {} : { outcome: r.error.slice(0, 160) }) });
    }
  }
  await Promise.race([pair.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3000))]);
  process.exit(0);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

await main();

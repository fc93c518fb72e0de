/**
 * The head-of-line study under real packet loss (issue 18): two network namespaces joined by a veth
 * pair, segmentation offloads off (a drop then removes one packet, not a 64 KB aggregate),
 * nftables dropping a fraction of the packets on the INPUT hook of both namespaces, the server in
 * one namespace and one client process per run in the other. Every case × loss level × repeat is
 * one run; results are medians over repeats with every run kept.
 *
 * No delay is added (netem is not in this kernel): the path's RTT is tens of microseconds, so
 * recovery is driven by the retransmission timers (TCP: RTO of at least 200 ms, tail loss probes;
 * QUIC: probe timeouts), as on a fast link.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { markdownTable, machineInfo, writeResults, type MachineInfo } from '../lib/report.ts';
import { connectNamespaces, createNamespace, deleteNamespace, disableOffloads, netnsUnavailable, run as runIn, setInputLoss } from '../lib/netns.ts';
import { CASE_LABELS, type CaseName, type RunResult, type RunSpec, type ServerPorts } from './common.ts';

export interface HolLossOptions {
  readonly name: string;
  readonly smoke: boolean;
  readonly cases: readonly CaseName[];
  readonly losses: readonly number[];
  readonly repeats: number;
  readonly durationMs: number;
  readonly warmMs: number;
  readonly bulkStreams: number;
  /** Total paced bulk rate, bytes/s. */
  readonly bulkRate: number;
}

export function defaultHolLossOptions(smoke: boolean): HolLossOptions {
  return smoke
    ? { name: 'hol-loss', smoke, cases: ['fw-tcp', 'fw-quic'], losses: [1], repeats: 1, durationMs: 1500, warmMs: 300, bulkStreams: 2, bulkRate: 20e6 }
    : { name: 'hol-loss', smoke, cases: ['fw-tcp', 'fw-tcp-unpaced', 'fw-tcp-separate', 'fw-quic', 'http2', 'yamux'], losses: [0, 0.5, 1, 2, 5], repeats: 3, durationMs: 8000, warmMs: 1000, bulkStreams: 2, bulkRate: 20e6 };
}

export interface PointSummary {
  readonly caseName: CaseName;
  readonly loss: number;
  readonly runs: readonly RunResult[];
  /** Medians over the runs that completed. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly stalls50: number;
  readonly stalls200: number;
  readonly lost: number;
  readonly mbPerSecond: number;
}

export interface HolLossResult {
  readonly skipped?: string;
  readonly path?: string;
  readonly markdown: string;
  readonly summaries: readonly PointSummary[];
  readonly machine?: MachineInfo;
  readonly offloads?: Record<string, { wereOn: string[]; stillOn: string[] }>;
}

const SERVER_ADDR = '192.0.2.1';
const CLIENT_ADDR = '192.0.2.2';
const RUN_DEADLINE_EXTRA_MS = 20_000;
const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function startServer(ns: string): Promise<{ child: ChildProcess; ports: ServerPorts }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', here('./server.ts'), SERVER_ADDR], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      reject(new Error('hol-loss server: no ports within 20 s'));
    }, 20_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      reject(new Error(`hol-loss server exited with ${code}`));
    });
  });
  return { child, ports: JSON.parse(line) as ServerPorts };
}

function runClient(ns: string, spec: RunSpec): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', here('./client.ts'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = spec.warmMs + spec.durationMs + spec.graceMs + RUN_DEADLINE_EXTRA_MS;
    const timer = setTimeout(() => child.kill('SIGKILL'), deadline);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line !== undefined) {
        resolve(JSON.parse(line) as RunResult);
        return;
      }
      const why = signal === 'SIGKILL' ? `no result within ${deadline} ms` : `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
      resolve({ caseName: spec.caseName, ping: { sent: 0, lost: 0, p50Ms: NaN, p99Ms: NaN, p999Ms: NaN, maxMs: NaN, stalls50: 0, stalls200: 0 }, bulk: { bytes: 0, seconds: 0, mbPerSecond: NaN }, error: why });
    });
  });
}

/** The kernel's own counters of a namespace (/proc/net/snmp): what was retransmitted or dropped. */
function snmp(ns: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = runIn(ns, ['cat', '/proc/net/snmp']).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const proto = names[0]!.replace(':', '');
    for (let k = 1; k < names.length; k++) out.set(`${proto}.${names[k]!}`, Number(values[k]));
  }
  return out;
}

function kernelDelta(before: Map<string, number>[], after: Map<string, number>[]): NonNullable<RunResult['kernel']> {
  const d = (key: string): number => after.reduce((n, a, i) => n + (a.get(key) ?? 0) - (before[i]!.get(key) ?? 0), 0);
  return { tcpRetransSegs: d('Tcp.RetransSegs'), udpRcvbufErrors: d('Udp.RcvbufErrors'), udpInDatagrams: d('Udp.InDatagrams'), tcpOutSegs: d('Tcp.OutSegs') };
}

function summarizePoint(caseName: CaseName, loss: number, runs: readonly RunResult[]): PointSummary {
  const ok = runs.filter((r) => r.error === undefined);
  const m = (f: (r: RunResult) => number): number => median(ok.map(f));
  return {
    caseName,
    loss,
    runs,
    p50Ms: m((r) => r.ping.p50Ms),
    p99Ms: m((r) => r.ping.p99Ms),
    p999Ms: m((r) => r.ping.p999Ms),
    maxMs: m((r) => r.ping.maxMs),
    stalls50: m((r) => r.ping.stalls50),
    stalls200: m((r) => r.ping.stalls200),
    lost: m((r) => r.ping.lost),
    mbPerSecond: m((r) => r.bulk.mbPerSecond),
  };
}

const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

function markdown(summaries: readonly PointSummary[], o: HolLossOptions, offloads: Record<string, { wereOn: string[]; stillOn: string[] }>): string {
  const rows = summaries.map((s) => [
    CASE_LABELS[s.caseName],
    `${s.loss} %`,
    fmt(s.p50Ms, 2),
    fmt(s.p99Ms),
    fmt(s.p999Ms),
    fmt(s.maxMs),
    fmt(s.stalls50, 0),
    fmt(s.stalls200, 0),
    fmt(s.lost, 0),
    fmt(s.mbPerSecond),
    `${s.runs.filter((r) => r.error === undefined).length}/${s.runs.length}`,
  ]);
  const off = Object.entries(offloads).map(([dev, x]) => `${dev}: were on ${x.wereOn.join(', ') || 'none'}${x.stillOn.length > 0 ? `; still on (fixed): ${x.stillOn.join(', ')}` : ''}`).join('; ');
  return [
    `64-byte ping every 10 ms on its own stream while ${o.bulkStreams} bulk streams send ${o.bulkRate > 0 ? `${o.bulkRate / 1e6} MB/s in all (paced)` : 'unpaced'} (the unpaced row: as fast as TCP allows); ${o.durationMs} ms measured after ${o.warmMs} ms of bulk, median of ${o.repeats} run(s) per point.`,
    `Loss: nftables drop on INPUT in both namespaces. No added delay: the veth RTT is tens of µs, so retransmission timers dominate (TCP RTO >= 200 ms, TLP; QUIC PTO). Offloads turned off — ${off}.`,
    '',
    markdownTable(['case', 'loss', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'stalls >50 ms', 'stalls >200 ms', 'pings lost', 'bulk MB/s', 'runs ok'], rows),
  ].join('\n');
}

export async function runHolLoss(o: HolLossOptions): Promise<HolLossResult> {
  const why = netnsUnavailable();
  if (why !== undefined) {
    return { skipped: why, markdown: `hol-loss: SKIPPED, ${why}. Run it as root on a machine with iproute2, nftables and ethtool.`, summaries: [] };
  }
  const tag = `${process.pid}`;
  const srv = createNamespace(`fw-hol-${tag}-s`);
  const cli = createNamespace(`fw-hol-${tag}-c`);
  const summaries: PointSummary[] = [];
  let server: ChildProcess | undefined;
  try {
    const { devA, devB } = connectNamespaces(srv, cli, SERVER_ADDR, CLIENT_ADDR, tag);
    const offloads = { [devA]: disableOffloads(srv, devA), [devB]: disableOffloads(cli, devB) };
    const started = await startServer(srv);
    server = started.child;
    const machine = machineInfo();
    for (const loss of o.losses) {
      setInputLoss(srv, loss);
      setInputLoss(cli, loss);
      for (const caseName of o.cases) {
        const runs: RunResult[] = [];
        for (let r = 0; r < o.repeats; r++) {
          const spec: RunSpec = {
            caseName,
            host: SERVER_ADDR,
            ports: started.ports,
            durationMs: o.durationMs,
            warmMs: o.warmMs,
            pingIntervalMs: 10,
            bulkStreams: o.bulkStreams,
            bulkRate: caseName === 'fw-tcp-unpaced' ? 0 : o.bulkRate,
            graceMs: 2000,
          };
          const before = [snmp(srv), snmp(cli)];
          const measured = await runClient(cli, spec);
          const after = [snmp(srv), snmp(cli)];
          const result: RunResult = { ...measured, kernel: kernelDelta(before, after) };
          runs.push(result);
          const k = result.kernel;
          process.stderr.write(`[hol-loss] ${caseName} loss ${loss}% run ${r + 1}/${o.repeats}: ${result.error ?? `p50 ${fmt(result.ping.p50Ms, 2)} p99 ${fmt(result.ping.p99Ms)} max ${fmt(result.ping.maxMs)} ms, bulk ${fmt(result.bulk.mbPerSecond)} MB/s`}; TCP retrans ${k?.tcpRetransSegs}, UDP rcvbuf drops ${k?.udpRcvbufErrors}\n`);
        }
        summaries.push(summarizePoint(caseName, loss, runs));
      }
    }
    const text = markdown(summaries, o, offloads);
    const path = writeResults(o.name, o.smoke, { options: o, machine, offloads, summaries, table: text });
    return { path, markdown: text, summaries, machine, offloads };
  } finally {
    server?.stdin?.end();
    server?.kill();
    deleteNamespace(cli);
    deleteNamespace(srv);
  }
}

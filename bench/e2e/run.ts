/**
 * The end-to-end benchmark's orchestrator: starts one server and one client process per protocol
 * (node --import tsx, on loopback), and runs every case interleaved: each repeat runs every
 * contender of the case back to back (A B C D, then again), after warm-ups, so a noisy minute on
 * the machine lands on all of them. Ratios are then taken repeat by repeat (ratios.ts) against the
 * better of two raw node:net baselines measured in the same run, beside iperf3 as the kernel's
 * limit (iperf.ts). Reports Markdown and bench/results/e2e.json (tables.ts).
 *
 * Exported as `runE2E` so the CLI can offer it as `framewire bench`.
 */

import { mkdirSync } from 'node:fs';
import { describeMachine, formatNumber, machineInfo, MiB, writeResults } from '../lib/report.ts';
import { canPin, CLIENT_CPU, runOnce, SERVER_CPU, startPair, STEADY_HEAP_ENV, type Pair, type Sample } from './children.ts';
import { CONTENDERS, PROTOCOLS, type CaseSpec, type Contender, type Protocol } from './common.ts';
import { iperf3Version, runIperf3 } from './iperf.ts';
import { buildTables, CASE_NAMES, type CaseName, type TargetRow, type VariantResult } from './tables.ts';

export { CASE_NAMES, type CaseName } from './tables.ts';

const GiB = 2 ** 30;

export interface E2EOptions {
  readonly smoke: boolean;
  /** Bytes of the one-stream bulk case (and of the HOL case's bulk stream); 8 streams carry size/8 each. */
  readonly size: number;
  readonly repeats: number;
  readonly warmups: number;
  readonly messages: number;
  readonly stallMs: number;
  readonly contenders: readonly Contender[];
  readonly cases: readonly CaseName[];
  /** Directory for --cpu-prof profiles of the framewire processes, if profiling. */
  readonly profileDir: string | undefined;
  /** Directory for profiles of the framewire processes' measured runs only (bench:commit's missed targets). */
  readonly profileWindowDir: string | undefined;
  /**
   * Pin the server to CPU 0 and the client to CPU 1 (taskset). On a 2-core VM, leaving placement
   * to the scheduler made the baselines swing by up to 3× between runs (both processes on one core,
   * or not); pinned, every contender gets the same two cores the same way.
   */
  readonly pin: boolean;
  /** Leave glibc's heap trimming on (see STEADY_HEAP_ENV in children.ts: off by default). */
  readonly heapTrim: boolean;
  /** Write bench/results/e2e.json (e2e.tmp.json for smoke runs); off for the profiling reruns of bench:commit. */
  readonly record: boolean;
  readonly log: (line: string) => void;
}

export function defaultE2EOptions(smoke: boolean): E2EOptions {
  return {
    smoke,
    size: smoke ? 16 * MiB : GiB,
    repeats: smoke ? 1 : 5,
    warmups: smoke ? 0 : 1,
    messages: smoke ? 20_000 : 4_000_000,
    stallMs: smoke ? 300 : 5000,
    contenders: CONTENDERS,
    cases: CASE_NAMES,
    profileDir: undefined,
    profileWindowDir: undefined,
    pin: canPin(),
    heapTrim: false,
    record: true,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

interface Variant {
  readonly key: string;
  readonly caseName: CaseName;
  readonly contender: Contender;
  readonly spec: CaseSpec;
  /** Runs against a freshly started server (memory case: RSS must not carry earlier runs). */
  readonly freshServer: boolean;
}

function variants(o: E2EOptions): Variant[] {
  const out: Variant[] = [];
  const write = 64 * 1024;
  for (const caseName of o.cases) {
    for (const contender of o.contenders) {
      const add = (key: string, spec: CaseSpec, freshServer = false): void => {
        out.push({ key, caseName, contender, spec, freshServer });
      };
      // iperf3 only moves bulk bytes.
      if (contender === 'iperf3' && caseName !== 'bulk1' && caseName !== 'bulk8') continue;
      switch (caseName) {
        case 'bulk1':
          add(`bulk1/${contender}`, { case: 'bulk', streams: 1, bytesPerStream: o.size, writeSize: write });
          break;
        case 'bulk8':
          add(`bulk8/${contender}`, { case: 'bulk', streams: 8, bytesPerStream: Math.floor(o.size / 8 / write) * write, writeSize: write });
          break;
        case 'msgs':
          add(`msgs/${contender}`, { case: 'msgs', messages: o.messages, messageSize: 64, api: 'per-message' });
          // The same messages through the high-rate API: send()/drained() and batches(), no promise per message.
          if (contender === 'framewire') add('msgs/framewire-batched', { case: 'msgs', messages: o.messages, messageSize: 64, api: 'batched' });
          break;
        case 'hol': {
          const base = { case: 'hol', bulkBytes: o.size, writeSize: write, pingSize: 64, minPings: o.smoke ? 20 : 200 } as const;
          // Raw TCP has no streams: its pings always go over a connection of their own.
          if (contender !== 'raw-64k' && contender !== 'raw-batched') add(`hol-same/${contender}`, { ...base, separate: false });
          add(`hol-separate/${contender}`, { ...base, separate: true });
          break;
        }
        case 'stall': {
          // Both raw baselines have the same receiver: one of them says what it holds.
          if (contender === 'raw-batched') break;
          const prefix = o.smoke ? 4 * MiB : 32 * MiB;
          add(`stall/${contender}`, { case: 'stall', bytes: o.smoke ? 16 * MiB : 256 * MiB, writeSize: write, prefix, stallMs: o.stallMs }, true);
          break;
        }
      }
    }
  }
  return out;
}

export interface E2EReport {
  readonly json: Record<string, unknown>;
  readonly markdown: string;
  readonly targets: readonly TargetRow[];
  /** Where the JSON went; undefined when not recorded. */
  readonly path: string | undefined;
}

const isProtocol = (c: Contender): c is Protocol => (PROTOCOLS as readonly string[]).includes(c);

export async function runE2E(o: E2EOptions): Promise<E2EReport> {
  const loadAtStart = machineInfo().loadavg;
  const loadSeen: number[] = [loadAtStart[0] ?? NaN];
  if (o.profileDir !== undefined) mkdirSync(o.profileDir, { recursive: true });
  const pairs = new Map<Protocol, Pair>();
  const failed = new Map<Contender, string>();
  const iperf = o.contenders.includes('iperf3') ? iperf3Version() : undefined;
  if (o.contenders.includes('iperf3') && iperf === undefined) {
    failed.set('iperf3', 'iperf3 is not installed (Debian package iperf3)');
    o.log('  !!! iperf3 is not installed: the kernel-limit rows are SKIPPED (apt-get install iperf3) !!!');
  }
  for (const c of o.contenders) {
    if (!isProtocol(c)) continue;
    try {
      pairs.set(c, await startPair(c, o));
    } catch (error) {
      failed.set(c, String(error));
      o.log(`  ${c}: unavailable (${String(error)})`);
    }
  }
  const all = variants(o);
  const results = new Map<string, VariantResult>();
  for (const v of all) {
    const r: VariantResult = { key: v.key, caseName: v.caseName, contender: v.contender, spec: v.spec, samples: [] };
    const error = failed.get(v.contender);
    if (error !== undefined) r.error = error;
    results.set(v.key, r);
  }
  const runIperf = (spec: CaseSpec): Promise<Sample> => {
    if (spec.case !== 'bulk') throw new Error('iperf3 runs bulk cases only');
    return runIperf3(spec.streams * spec.bytesPerStream, spec.streams, o.pin ? SERVER_CPU : undefined, o.pin ? CLIENT_CPU : undefined);
  };
  try {
    for (const caseName of o.cases) {
      const group = all.filter((v) => v.caseName === caseName);
      for (let rep = -o.warmups; rep < o.repeats; rep++) {
        loadSeen.push(machineInfo().loadavg[0] ?? NaN);
        for (const v of group) {
          const res = results.get(v.key)!;
          if (res.error !== undefined) continue;
          const contender = v.contender;
          const proto = isProtocol(contender) ? contender : undefined;
          const pair = proto === undefined ? undefined : pairs.get(proto);
          if (proto !== undefined && pair === undefined) continue;
          let fresh: Pair | undefined;
          try {
            let sample: Sample;
            if (proto === undefined || pair === undefined) {
              sample = await runIperf(v.spec);
            } else if (v.freshServer) {
              fresh = await startPair(proto, o);
              sample = await runOnce(fresh, v.spec);
            } else {
              sample = await runOnce(pair, v.spec);
            }
            if (rep >= 0) res.samples[rep] = sample;
            o.log(`  ${rep < 0 ? 'warm-up' : `#${rep + 1}`} ${v.key.padEnd(26)} ${describeSample(v.spec, sample)}`);
          } catch (error) {
            res.error = error instanceof Error ? error.message : String(error);
            o.log(`  ${v.key}: FAILED ${res.error}`);
            if (proto !== undefined && pair !== undefined) {
              // A failed run may have left the processes in any state: start the next case afresh.
              await Promise.all([pair.server.stop(), pair.client.stop()]);
              pairs.set(proto, await startPair(proto, o));
            }
          } finally {
            if (fresh !== undefined) await Promise.all([fresh.server.stop(), fresh.client.stop()]);
          }
        }
      }
    }
  } finally {
    await Promise.all([...pairs.values()].flatMap((p) => [p.server.stop(), p.client.stop()]));
  }
  return report(o, [...results.values()], loadAtStart, loadSeen, iperf);
}

function report(o: E2EOptions, results: VariantResult[], loadAtStart: readonly number[], loadSeen: readonly number[], iperf: string | undefined): E2EReport {
  const tables = buildTables({ size: o.size, messages: o.messages, repeats: o.repeats, stallMs: o.stallMs, cases: o.cases, contenders: o.contenders, results });
  const machine = machineInfo();
  const loadMax = Math.max(...loadSeen.filter((x) => Number.isFinite(x)));
  const errors = results.filter((r) => r.error !== undefined).map((r) => `- ${r.key}: ${r.error!.split('\n')[0]!}`);
  const placement = o.pin ? ', pinned to CPUs 0 (server) and 1 (client)' : ', placed by the OS';
  const heap = o.heapTrim ? "glibc's heap trimming left on" : Object.entries(STEADY_HEAP_ENV).map(([k, v]) => `${k}=${v}`).join(' ');
  const header =
    `## framewire end-to-end benchmark\n\n${describeMachine({ ...machine, loadavg: loadAtStart })}; 1-min load at the start of each repeat up to ${loadMax.toFixed(2)}, ${machine.loadavg.join('/')} at the end. ` +
    `Interleaved: each of ${o.repeats} repeats (after ${o.warmups} warm-up) runs every contender of a case back to back. Client and server in separate processes on loopback${placement}; ` +
    `${heap}; ${iperf ?? 'iperf3 not installed'}.${o.smoke ? ' SMOKE RUN: the figures mean nothing.' : ''}`;
  const markdown = [header, ...tables.sections, ...(errors.length > 0 ? [`### Failed or unavailable\n\n${errors.join('\n')}`] : [])].join('\n\n');
  const json = {
    machine: { ...machine, loadavgAtStart: loadAtStart, loadavg1PerRepeat: loadSeen, iperf3: iperf ?? null },
    options: { smoke: o.smoke, size: o.size, repeats: o.repeats, warmups: o.warmups, messages: o.messages, stallMs: o.stallMs, contenders: o.contenders, cases: o.cases, pinned: o.pin, heapTrim: o.heapTrim },
    summary: tables.summary,
    targets: tables.targets,
    // Raw ping samples are summarised above (pooled percentiles), not stored.
    variants: results.map((r) => ({
      key: r.key,
      spec: r.spec,
      error: r.error,
      samples: r.samples.map((x) => (x?.pings === undefined ? (x ?? null) : { ...x, pings: { ...x.pings, samplesUs: undefined } })),
    })),
  };
  const path = o.record ? writeResults('e2e', o.smoke, json) : undefined;
  return { json, markdown, targets: tables.targets, path };
}

function describeSample(spec: CaseSpec, s: Sample): string {
  const base = `${(s.seconds * 1000).toFixed(0)} ms, cpu client ${s.clientCpu.total.toFixed(2)} s server ${s.serverCpu.total.toFixed(2)} s`;
  const mb = (bytes: number, seconds: number): string => formatNumber(bytes / seconds / 1e6);
  switch (spec.case) {
    case 'bulk':
      return `${mb(s.bytes, s.seconds)} MB/s, ${base}`;
    case 'msgs':
      return `${formatNumber((s.messages ?? 0) / s.seconds)} msg/s, ${base}`;
    case 'hol':
      return `ping p50 ${s.pings!.p50Us} µs p99 ${s.pings!.p99Us} µs (${s.pings!.count}), bulk ${mb(s.bytes, s.bulkSeconds ?? s.seconds)} MB/s`;
    case 'stall': {
      const st = s.stall;
      if (st === undefined) return base;
      return `during stall ${(st.bytesDuringStall / MiB).toFixed(1)} MiB, held ${((st.heldBytes ?? NaN) / MiB).toFixed(1)} MiB, granted ${((st.grantedBytes ?? NaN) / MiB).toFixed(1)} MiB, RSS +${((st.rssPeak - st.rssAtStallStart) / MiB).toFixed(1)} MiB`;
    }
  }
}

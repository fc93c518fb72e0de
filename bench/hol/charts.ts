/**
 * The head-of-line study's charts, built from the per-point medians (file names get the run's name
 * as a prefix, `hol-` by default):
 * - hol-p99-vs-frame.svg        p99 interactive latency vs max frame payload, one line per policy,
 *                               separate TCP and http2 as references, at N = 4 bulk streams;
 * - hol-p99-vs-frame-by-n.svg   the same for every N, side by side (shared y-axis);
 * - hol-throughput-vs-p99.svg   bulk throughput vs p99 latency, one point per (frame size, policy), N = 4.
 */

import { formatSize, type MachineInfo } from '../lib/report.ts';
import type { Policy } from './common.ts';
import type { HolOptions, PointSummary } from './run.ts';
import { fitRange, renderFigure, type Axis, type Marker, type Panel, type RefLine, type Series } from './svg.ts';

const STYLE: Record<Policy | 'separate TCP' | 'http2', { color: string; marker: Marker; dash?: string; label: string }> = {
  fifo: { color: '#d62728', marker: 'square', label: 'framewire, FIFO' },
  'round-robin': { color: '#1f77b4', marker: 'circle', label: 'framewire, round-robin' },
  urgency: { color: '#2ca02c', marker: 'triangle', label: 'framewire, urgency 0 vs 3' },
  'separate TCP': { color: '#7f7f7f', marker: 'diamond', dash: '5 4', label: 'separate TCP connection' },
  http2: { color: '#9467bd', marker: 'diamond', dash: '2 3', label: 'node:http2, same session' },
};

const shortSize = (b: number): string => formatSize(b).replace(' KiB', 'K').replace(' MiB', 'M');

const usable = (s: PointSummary): boolean => s.repeats > 0 && Number.isFinite(s.p99Us);

function frameAxis(frames: readonly number[]): Axis {
  return {
    label: 'max frame payload (receiver setting, log scale)',
    scale: 'log',
    min: Math.min(...frames) / 1.4,
    max: Math.max(...frames) * 1.4,
    ticks: frames.map((f) => ({ value: f, label: formatSize(f) })),
  };
}

function latencyAxis(values: readonly number[]): Axis {
  const r = fitRange(values, 'log');
  return { label: 'p99 round trip of a 64-byte request (ms, log scale)', scale: 'log', min: r.min, max: r.max };
}

/** The p99-vs-frame-size panel for N bulk streams. */
function p99Panel(summaries: readonly PointSummary[], o: HolOptions, n: number, y: Axis, title?: string): { panel: Panel; legend: (Series | RefLine)[] } {
  const at = summaries.filter((s) => s.bulkStreams === n && usable(s));
  const series: Series[] = [];
  for (const policy of o.policies) {
    const pts = at.filter((s) => s.transport === 'framewire' && s.policy === policy).sort((a, b) => a.maxFramePayload - b.maxFramePayload);
    const st = STYLE[policy];
    series.push({ name: st.label, color: st.color, marker: st.marker, points: pts.map((s) => ({ x: s.maxFramePayload, y: s.p99Us / 1000 })) });
  }
  const sep = at.filter((s) => s.transport === 'tcp-separate').sort((a, b) => a.maxFramePayload - b.maxFramePayload);
  if (sep.length > 0) {
    const st = STYLE['separate TCP'];
    series.push({ name: st.label, color: st.color, marker: st.marker, ...(st.dash === undefined ? {} : { dash: st.dash }), width: 1.5, points: sep.map((s) => ({ x: s.maxFramePayload, y: s.p99Us / 1000 })) });
  }
  const refLines: RefLine[] = [];
  const h2 = at.find((s) => s.transport === 'http2');
  if (h2 !== undefined) refLines.push({ name: `${STYLE.http2.label} (any frame size)`, y: h2.p99Us / 1000, color: STYLE.http2.color, dash: '2 3' });
  const panel: Panel = { x: frameAxis(o.frames), y, series, refLines, ...(title === undefined ? {} : { title }) };
  return { panel, legend: [...series, ...refLines] };
}

function subtitle(o: HolOptions, machine: MachineInfo, extra: string): string {
  return `${extra}; median of ${o.repeats} × ${o.durationMs} ms; ${machine.cores} cores, node ${machine.node}, load ${machine.loadavg.join('/')}${o.smoke ? ' (SMOKE RUN)' : ''}`;
}

export function holCharts(summaries: readonly PointSummary[], o: HolOptions, machine: MachineInfo): [string, string][] {
  const out: [string, string][] = [];
  const n4 = o.bulkCounts.includes(4) ? 4 : o.bulkCounts[o.bulkCounts.length - 1]!;
  const note = 'Client and server in separate processes on loopback; bulk = 1 MiB writes as fast as the connection takes them; requests one in flight.';

  // (1) p99 vs max frame payload at N = 4.
  {
    const values = summaries.filter((s) => s.bulkStreams === n4 && usable(s)).map((s) => s.p99Us / 1000);
    const { panel, legend } = p99Panel(summaries, o, n4, latencyAxis(values));
    out.push([
      'p99-vs-frame.svg',
      renderFigure({ width: 860, height: 520, title: `Interactive p99 vs max frame payload, ${n4} bulk stream${n4 === 1 ? '' : 's'} sharing the connection`, subtitle: subtitle(o, machine, '64-byte request → echo'), panels: [panel], legend, note }),
    ]);
  }

  // (1b) Small multiples: one panel per N, one shared y-axis.
  if (o.bulkCounts.length > 1) {
    const values = summaries.filter(usable).map((s) => s.p99Us / 1000);
    const y = latencyAxis(values);
    const panels: Panel[] = [];
    let legend: (Series | RefLine)[] = [];
    o.bulkCounts.forEach((n, i) => {
      const r = p99Panel(summaries, o, n, y, `N = ${n} bulk stream${n === 1 ? '' : 's'}`);
      panels.push({ ...r.panel, x: { ...r.panel.x, label: 'max frame payload', ticks: o.frames.map((f) => ({ value: f, label: shortSize(f) })) }, ...(i > 0 ? { hideYLabels: true } : {}) });
      if (r.legend.length > legend.length) legend = r.legend;
    });
    out.push([
      'p99-vs-frame-by-n.svg',
      renderFigure({ width: 1100, height: 500, title: 'Interactive p99 latency vs max frame payload, by number of bulk streams', subtitle: subtitle(o, machine, '64-byte request → echo; http2 as a horizontal line'), panels, legend: legend.map((e) => ('y' in e ? { ...e, name: STYLE.http2.label } : e)), note }),
    ]);
  }

  // (2) Throughput vs p99: each point one (frame size, policy) configuration at N = 4.
  {
    const at = summaries.filter((s) => s.bulkStreams === n4 && usable(s) && Number.isFinite(s.bulkMBps));
    const series: Series[] = [];
    for (const policy of o.policies) {
      const pts = at.filter((s) => s.transport === 'framewire' && s.policy === policy).sort((a, b) => a.maxFramePayload - b.maxFramePayload);
      const st = STYLE[policy];
      series.push({ name: st.label, color: st.color, marker: st.marker, width: 1, dash: '1 3', labelAt: policy === 'urgency' ? 'below' : 'above', points: pts.map((s) => ({ x: s.p99Us / 1000, y: s.bulkMBps, label: shortSize(s.maxFramePayload) })) });
    }
    const h2 = at.find((s) => s.transport === 'http2');
    if (h2 !== undefined) series.push({ name: STYLE.http2.label, color: STYLE.http2.color, marker: 'diamond', line: false, points: [{ x: h2.p99Us / 1000, y: h2.bulkMBps, label: 'http2' }] });
    const xr = fitRange(at.map((s) => s.p99Us / 1000), 'log');
    const yr = fitRange(at.map((s) => s.bulkMBps), 'linear', { includeZero: true });
    const panel: Panel = {
      x: { label: 'p99 round trip of a 64-byte request (ms, log scale) — better ←', scale: 'log', min: xr.min, max: xr.max },
      y: { label: 'bulk throughput meanwhile (MB/s) — better ↑', scale: 'linear', min: 0, max: yr.max },
      series,
    };
    out.push([
      'throughput-vs-p99.svg',
      renderFigure({ width: 860, height: 540, title: `Bulk throughput vs interactive p99, ${n4} bulk streams`, subtitle: subtitle(o, machine, 'labels = max frame payload'), panels: [panel], legend: series, note }),
    ]);
  }
  return out;
}

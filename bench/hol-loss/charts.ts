/**
 * The study's two charts (bench/results/<name>-*.svg, beside the other head-of-line charts):
 * - <name>-p99-vs-loss.svg         p99 ping round trip against the loss rate, one line per case;
 * - <name>-throughput-vs-loss.svg  bulk throughput against the loss rate, one line per case.
 */

import type { MachineInfo } from '../lib/report.ts';
import { fitRange, renderFigure, type Axis, type Marker, type Series } from '../hol/svg.ts';
import { CASE_LABELS, type CaseName } from './common.ts';
import type { HolLossOptions, PointSummary } from './run.ts';

const STYLE: Record<CaseName, { color: string; marker: Marker; dash?: string }> = {
  'fw-tcp': { color: '#d62728', marker: 'square' },
  'fw-tcp-unpaced': { color: '#ff9896', marker: 'square', dash: '4 3' },
  'fw-tcp-separate': { color: '#7f7f7f', marker: 'diamond', dash: '5 4' },
  'fw-quic': { color: '#2ca02c', marker: 'triangle' },
  http2: { color: '#9467bd', marker: 'circle', dash: '2 3' },
  yamux: { color: '#8c564b', marker: 'circle', dash: '6 2' },
};

function lossAxis(losses: readonly number[]): Axis {
  return { label: 'packets dropped on INPUT, both directions (%)', scale: 'linear', min: 0, max: Math.max(...losses, 1) * 1.05, ticks: losses.map((l) => ({ value: l, label: `${l}` })) };
}

function seriesOf(summaries: readonly PointSummary[], o: HolLossOptions, value: (s: PointSummary) => number): Series[] {
  return o.cases.map((c) => {
    const st = STYLE[c];
    const points = summaries.filter((s) => s.caseName === c && Number.isFinite(value(s)) && value(s) > 0).map((s) => ({ x: s.loss, y: value(s) }));
    return { name: CASE_LABELS[c], color: st.color, marker: st.marker, ...(st.dash === undefined ? {} : { dash: st.dash }), points };
  });
}

export function holLossCharts(summaries: readonly PointSummary[], o: HolLossOptions, machine: MachineInfo): [string, string][] {
  const sub = `64 B ping every 10 ms beside ${o.bulkStreams} bulk streams (${o.bulkRate / 1e6} MB/s paced, except the unpaced row); median of ${o.repeats} × ${o.durationMs} ms; ${machine.cores} cores, node ${machine.node}, load ${machine.loadavg.join('/')}${o.smoke ? ' (SMOKE RUN)' : ''}`;
  const p99 = seriesOf(summaries, o, (s) => s.p99Ms);
  const yP99 = fitRange(p99.flatMap((s) => s.points.map((p) => p.y)), 'log');
  const tput = seriesOf(summaries, o, (s) => s.mbPerSecond);
  const yTput = fitRange(tput.flatMap((s) => s.points.map((p) => p.y)), 'linear', { includeZero: true });
  const note = 'veth between two network namespaces, offloads off, nftables drops; no added delay: recovery is timer-driven (TCP RTO >= 200 ms).';
  return [
    [
      `${o.name}-p99-vs-loss.svg`,
      renderFigure({
        width: 900,
        height: 560,
        title: 'Head-of-line blocking under packet loss: p99 ping round trip',
        subtitle: sub,
        panels: [{ x: lossAxis(o.losses), y: { label: 'p99 round trip of a 64-byte ping (ms, log scale)', scale: 'log', min: yP99.min, max: yP99.max }, series: p99 }],
        legend: p99,
        note,
      }),
    ],
    [
      `${o.name}-throughput-vs-loss.svg`,
      renderFigure({
        width: 900,
        height: 560,
        title: 'Bulk throughput under packet loss',
        subtitle: sub,
        panels: [{ x: lossAxis(o.losses), y: { label: 'bulk throughput counted by the server (MB/s)', scale: 'linear', min: yTput.min, max: yTput.max }, series: tput }],
        legend: tput,
        note,
      }),
    ],
  ];
}

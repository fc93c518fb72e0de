/**
 * A small SVG chart writer for the benchmark reports: panels with linear or log axes, ticks, grid,
 * axis labels, line and scatter series, horizontal reference lines, a legend, and figures made of
 * one or more panels (small multiples). No dependency; the output is plain SVG 1.1 text.
 */

export type Marker = 'circle' | 'square' | 'triangle' | 'diamond' | 'none';

export interface Tick {
  readonly value: number;
  readonly label: string;
}

export interface Axis {
  readonly label: string;
  readonly scale: 'linear' | 'log';
  readonly min: number;
  readonly max: number;
  /** Explicit ticks; when absent, chosen from the range (1-2-5 steps, or powers of ten on a log axis). */
  readonly ticks?: readonly Tick[];
  /** Formats automatic tick values. */
  readonly format?: (v: number) => string;
}

export interface Point {
  readonly x: number;
  readonly y: number;
  /** Text written next to the point. */
  readonly label?: string;
}

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
  /** Joins the points with a line (default true). */
  readonly line?: boolean;
  readonly marker?: Marker;
  /** stroke-dasharray, e.g. "6 4". */
  readonly dash?: string;
  readonly width?: number;
  /** Where point labels go (default above right), so two series' labels can avoid each other. */
  readonly labelAt?: 'above' | 'below';
}

/** A horizontal line across a panel (a baseline that does not depend on x). */
export interface RefLine {
  readonly name: string;
  readonly y: number;
  readonly color: string;
  readonly dash?: string;
}

export interface Panel {
  readonly title?: string;
  readonly x: Axis;
  readonly y: Axis;
  readonly series: readonly Series[];
  readonly refLines?: readonly RefLine[];
  /** Hide the y-axis label and tick labels (inner panels of a row sharing one y-axis). */
  readonly hideYLabels?: boolean;
}

export interface Figure {
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly subtitle?: string;
  /** Panels laid out left to right in one row. */
  readonly panels: readonly Panel[];
  /** Legend entries (series and reference lines); below the panels. */
  readonly legend: readonly (Series | RefLine)[];
  readonly note?: string;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const AXIS_COLOR = '#444';
const GRID_COLOR = '#e3e3e3';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** Maps a value of `axis` onto [from, to] pixels. */
export function scaler(axis: Axis, from: number, to: number): (v: number) => number {
  if (axis.scale === 'log') {
    if (axis.min <= 0) throw new RangeError(`log axis "${axis.label}" needs min > 0`);
    const a = Math.log10(axis.min);
    const b = Math.log10(axis.max);
    return (v) => from + ((Math.log10(Math.max(v, axis.min * 1e-3)) - a) / (b - a)) * (to - from);
  }
  return (v) => from + ((v - axis.min) / (axis.max - axis.min)) * (to - from);
}

export function defaultFormat(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${v / 1e6}M`;
  if (abs >= 1e4) return `${v / 1e3}k`;
  if (abs >= 1) return Number(v.toPrecision(6)).toString();
  return Number(v.toPrecision(3)).toString();
}

/** 1-2-5 steps on a linear axis; 1, 2, 5 × powers of ten on a log axis (1 × only when it spans > 3.5 decades). */
export function autoTicks(axis: Axis): Tick[] {
  const fmt = axis.format ?? defaultFormat;
  const out: Tick[] = [];
  if (axis.scale === 'log') {
    const decades = Math.log10(axis.max / axis.min);
    const mults = decades > 3.5 ? [1] : decades > 1.2 ? [1, 2, 5] : [1, 2, 3, 5, 7];
    for (let e = Math.floor(Math.log10(axis.min)); e <= Math.ceil(Math.log10(axis.max)); e++) {
      for (const m of mults) {
        const v = m * 10 ** e;
        if (v >= axis.min * 0.999 && v <= axis.max * 1.001) out.push({ value: v, label: fmt(Number(v.toPrecision(6))) });
      }
    }
    return out;
  }
  const span = axis.max - axis.min;
  const raw = span / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  for (let v = Math.ceil(axis.min / step) * step; v <= axis.max + step * 1e-9; v += step) out.push({ value: Number(v.toPrecision(12)), label: fmt(Number(v.toPrecision(12))) });
  return out;
}

/** A range that holds every value with a little air; on a log axis, rounded out to 1-2-5 steps. */
export function fitRange(values: readonly number[], scale: 'linear' | 'log', opts: { includeZero?: boolean } = {}): { min: number; max: number } {
  const finite = values.filter((v) => Number.isFinite(v) && (scale === 'linear' || v > 0));
  if (finite.length === 0) return scale === 'log' ? { min: 1, max: 10 } : { min: 0, max: 1 };
  let min = Math.min(...finite);
  let max = Math.max(...finite);
  if (scale === 'log') {
    const down = (v: number): number => {
      const p = 10 ** Math.floor(Math.log10(v));
      return ([5, 2, 1].map((m) => m * p).find((s) => s <= v) ?? p);
    };
    const up = (v: number): number => {
      const p = 10 ** Math.floor(Math.log10(v));
      return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= v) ?? 10 * p;
    };
    min = down(min * 0.95);
    max = up(max * 1.05);
    if (max <= min) max = min * 10;
    return { min, max };
  }
  if (opts.includeZero === true) min = Math.min(0, min);
  const pad = (max - min || Math.abs(max) || 1) * 0.06;
  return { min: opts.includeZero === true && min === 0 ? 0 : min - pad, max: max + pad };
}

function markerSvg(m: Marker, x: number, y: number, color: string, size = 4): string {
  switch (m) {
    case 'none':
      return '';
    case 'circle':
      return `<circle cx="${r1(x)}" cy="${r1(y)}" r="${size}" fill="${color}" stroke="#fff" stroke-width="1"/>`;
    case 'square':
      return `<rect x="${r1(x - size)}" y="${r1(y - size)}" width="${2 * size}" height="${2 * size}" fill="${color}" stroke="#fff" stroke-width="1"/>`;
    case 'triangle': {
      const s = size * 1.25;
      return `<path d="M${r1(x)} ${r1(y - s)} L${r1(x + s)} ${r1(y + s * 0.8)} L${r1(x - s)} ${r1(y + s * 0.8)} Z" fill="${color}" stroke="#fff" stroke-width="1"/>`;
    }
    case 'diamond': {
      const s = size * 1.3;
      return `<path d="M${r1(x)} ${r1(y - s)} L${r1(x + s)} ${r1(y)} L${r1(x)} ${r1(y + s)} L${r1(x - s)} ${r1(y)} Z" fill="${color}" stroke="#fff" stroke-width="1"/>`;
    }
  }
}

function isRefLine(e: Series | RefLine): e is RefLine {
  return 'y' in e;
}

/** One panel in the box (left, top, width, height) of the figure. */
function panelSvg(p: Panel, left: number, top: number, width: number, height: number): string {
  const out: string[] = [];
  const sx = scaler(p.x, left, left + width);
  const sy = scaler(p.y, top + height, top);
  const xt = p.x.ticks ?? autoTicks(p.x);
  const yt = p.y.ticks ?? autoTicks(p.y);
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#fff" stroke="none"/>`);
  for (const t of yt) out.push(`<line x1="${left}" x2="${left + width}" y1="${r1(sy(t.value))}" y2="${r1(sy(t.value))}" stroke="${GRID_COLOR}"/>`);
  for (const t of xt) out.push(`<line x1="${r1(sx(t.value))}" x2="${r1(sx(t.value))}" y1="${top}" y2="${top + height}" stroke="${GRID_COLOR}"/>`);
  out.push(`<line x1="${left}" x2="${left + width}" y1="${top + height}" y2="${top + height}" stroke="${AXIS_COLOR}"/>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + height}" stroke="${AXIS_COLOR}"/>`);
  for (const t of xt) {
    const x = r1(sx(t.value));
    out.push(`<line x1="${x}" x2="${x}" y1="${top + height}" y2="${top + height + 5}" stroke="${AXIS_COLOR}"/>`);
    out.push(`<text x="${x}" y="${top + height + 18}" text-anchor="middle" font-size="11" fill="${AXIS_COLOR}" ${FONT}>${escapeXml(t.label)}</text>`);
  }
  for (const t of yt) {
    const y = r1(sy(t.value));
    out.push(`<line x1="${left - 5}" x2="${left}" y1="${y}" y2="${y}" stroke="${AXIS_COLOR}"/>`);
    if (p.hideYLabels !== true) out.push(`<text x="${left - 8}" y="${y}" dy="0.35em" text-anchor="end" font-size="11" fill="${AXIS_COLOR}" ${FONT}>${escapeXml(t.label)}</text>`);
  }
  out.push(`<text x="${r1(left + width / 2)}" y="${top + height + 38}" text-anchor="middle" font-size="12" fill="#222" ${FONT}>${escapeXml(p.x.label)}</text>`);
  if (p.hideYLabels !== true) {
    const cy = r1(top + height / 2);
    out.push(`<text x="${left - 52}" y="${cy}" text-anchor="middle" font-size="12" fill="#222" transform="rotate(-90 ${left - 52} ${cy})" ${FONT}>${escapeXml(p.y.label)}</text>`);
  }
  if (p.title !== undefined) out.push(`<text x="${r1(left + width / 2)}" y="${top - 8}" text-anchor="middle" font-size="13" font-weight="bold" fill="#222" ${FONT}>${escapeXml(p.title)}</text>`);
  // Data, clipped to the plot box.
  const clip = `clip${Math.round(left)}x${Math.round(top)}`;
  out.push(`<clipPath id="${clip}"><rect x="${left}" y="${top - 6}" width="${width + 6}" height="${height + 12}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clip})">`);
  for (const r of p.refLines ?? []) {
    const y = r1(sy(r.y));
    out.push(`<line x1="${left}" x2="${left + width}" y1="${y}" y2="${y}" stroke="${r.color}" stroke-width="1.5"${r.dash === undefined ? '' : ` stroke-dasharray="${r.dash}"`}/>`);
  }
  for (const s of p.series) {
    const pts = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
    if (s.line !== false && pts.length > 1) {
      const d = pts.map((q, i) => `${i === 0 ? 'M' : 'L'}${r1(sx(q.x))} ${r1(sy(q.y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round"${s.dash === undefined ? '' : ` stroke-dasharray="${s.dash}"`}/>`);
    }
    for (const q of pts) out.push(markerSvg(s.marker ?? 'circle', sx(q.x), sy(q.y), s.color));
  }
  out.push('</g>');
  for (const s of p.series) {
    for (const q of s.points) {
      if (q.label === undefined || !Number.isFinite(q.x) || !Number.isFinite(q.y)) continue;
      const dy = s.labelAt === 'below' ? 14 : -6;
      out.push(`<text x="${r1(sx(q.x) + 7)}" y="${r1(sy(q.y) + dy)}" font-size="10" fill="${s.color}" ${FONT}>${escapeXml(q.label)}</text>`);
    }
  }
  return out.join('\n');
}

function legendSvg(entries: readonly (Series | RefLine)[], left: number, top: number, width: number): { svg: string; height: number } {
  const out: string[] = [];
  const itemWidth = (e: Series | RefLine): number => 34 + e.name.length * 6.6 + 18;
  let x = left;
  let y = top;
  for (const e of entries) {
    const w = itemWidth(e);
    if (x + w > left + width && x > left) {
      x = left;
      y += 20;
    }
    const dash = e.dash === undefined ? '' : ` stroke-dasharray="${e.dash}"`;
    if (isRefLine(e) || e.line !== false) out.push(`<line x1="${r1(x)}" x2="${r1(x + 26)}" y1="${y}" y2="${y}" stroke="${e.color}" stroke-width="2"${dash}/>`);
    if (!isRefLine(e)) out.push(markerSvg(e.marker ?? 'circle', x + 13, y, e.color));
    out.push(`<text x="${r1(x + 32)}" y="${y}" dy="0.35em" font-size="12" fill="#222" ${FONT}>${escapeXml(e.name)}</text>`);
    x += w;
  }
  return { svg: out.join('\n'), height: y - top + 20 };
}

/** A whole figure: title, one row of panels, a legend and an optional note. */
export function renderFigure(f: Figure): string {
  const marginLeft = 72;
  const marginRight = 24;
  const gap = f.panels.length > 1 ? 28 : 0;
  const titleBlock = f.subtitle === undefined ? 44 : 62;
  const panelTop = titleBlock + (f.panels.some((p) => p.title !== undefined) ? 22 : 6);
  const legendRows = legendSvg(f.legend, marginLeft, 0, f.width - marginLeft - marginRight).height;
  const noteHeight = f.note === undefined ? 0 : 18;
  const panelHeight = f.height - panelTop - 52 - legendRows - noteHeight - 8;
  const panelWidth = (f.width - marginLeft - marginRight - gap * (f.panels.length - 1)) / f.panels.length;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${marginLeft}" y="24" font-size="16" font-weight="bold" fill="#111" ${FONT}>${escapeXml(f.title)}</text>`,
  ];
  if (f.subtitle !== undefined) parts.push(`<text x="${marginLeft}" y="44" font-size="12" fill="#555" ${FONT}>${escapeXml(f.subtitle)}</text>`);
  f.panels.forEach((p, i) => {
    parts.push(panelSvg(p, marginLeft + i * (panelWidth + gap), panelTop, panelWidth, panelHeight));
  });
  const legendTop = panelTop + panelHeight + 56;
  parts.push(legendSvg(f.legend, marginLeft, legendTop, f.width - marginLeft - marginRight).svg);
  if (f.note !== undefined) parts.push(`<text x="${marginLeft}" y="${f.height - 10}" font-size="10.5" fill="#666" ${FONT}>${escapeXml(f.note)}</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

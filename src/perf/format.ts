/** The human-readable report of `framewire perf` (the JSON one is the PerfResult itself). */

import type { LatencySummary, PerfResult } from './driver.ts';

const GiB = 2 ** 30;

function num(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
}

function size(bytes: number): string {
  if (bytes >= GiB) return `${num(bytes / GiB, 2)} GiB`;
  if (bytes >= 2 ** 20) return `${num(bytes / 2 ** 20, 1)} MiB`;
  if (bytes >= 1024) return `${num(bytes / 1024, 1)} KiB`;
  return `${bytes} B`;
}

function latency(l: LatencySummary | undefined): string[] {
  if (l === undefined) return ['', '', '', '', '', ''];
  return [num(l.minUs), num(l.p50Us), num(l.p90Us), num(l.p99Us), num(l.maxUs), num(l.count)];
}

/** Columns padded to their widest cell; the first column left-aligned, the others right-aligned. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function formatPerf(r: PerfResult): string {
  const way = r.direction === 'send' ? 'client → server (perf.sink)' : 'server → client (perf.source)';
  const length = r.durationMs !== undefined ? `${num(r.durationMs / 1000, 1)} s` : size(r.bytesRequested ?? 0);
  const out = [`framewire perf ${r.target}: ${way}, ${r.streams} stream${r.streams === 1 ? '' : 's'} × ${size(r.messageSize)} messages, ${length}`, ''];
  const cpu = (c: PerfResult['client'] | undefined): string[] => (c === undefined ? ['n/a', 'n/a'] : [num(c.cpuSecPerGiB, 2), num(c.cpuNsPerMessage)]);
  out.push(
    ...table(
      ['', 'bytes', 'seconds', 'MB/s', 'Gbit/s', 'messages/s', 'client CPU s/GiB', 'ns/msg', 'server CPU s/GiB', 'ns/msg'],
      [['data', size(r.bytes), num(r.seconds, 2), num(r.mbPerSec), num((r.mbPerSec * 8) / 1000, 2), num(r.messagesPerSec), ...cpu(r.client), ...cpu(r.server)]],
    ),
  );
  const l = r.latency;
  if (l.intervalMs > 0) {
    out.push(
      '',
      ...table(
        ['round trip (µs)', 'min', 'p50', 'p90', 'p99', 'max', 'count'],
        [
          ['PING, idle', ...latency(l.pingIdle)],
          ['PING, under load', ...latency(l.pingLoaded)],
          [`${l.probeSize} B on perf.echo, idle`, ...latency(l.echoIdle)],
          [`${l.probeSize} B on perf.echo, under load`, ...latency(l.echoLoaded)],
        ],
      ),
      '',
      `PING frames jump queued DATA; the perf.echo message waits behind the data streams' frames. One probe every ${l.intervalMs} ms.`,
    );
  }
  if (r.server === undefined) out.push('', 'The server reported no CPU time (its trailers have no cpu_us).');
  return out.join('\n');
}

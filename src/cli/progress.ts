/** Progress-bar text shared by the commands that show one. */

/** "1m05s", "12s" or "--" when the rate says nothing yet (never "NFs" from an infinite estimate). */
export function etaText(remainingBytes: number, bytesPerSecond: number): string {
  if (remainingBytes <= 0) return '0s';
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '--';
  const seconds = Math.ceil(remainingBytes / bytesPerSecond);
  if (!Number.isFinite(seconds) || seconds > 99 * 3600) return '--';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

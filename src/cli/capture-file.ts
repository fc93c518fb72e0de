/**
 * Reads what `--capture` writes (src/transport/capture.ts): a 32-byte header, then one direction's
 * raw bytes. Anything without the header is returned as it is, for the hex and raw parsing.
 */

import { CAPTURE_HEADER_SIZE, CAPTURE_MAGIC, CaptureEnd } from '../transport/capture.ts';

export interface CaptureFile {
  readonly bytes: Uint8Array;
  /** How the capture ended, for a capture file: one line for the reader. */
  readonly note?: string;
  /** The capture stopped before the connection did: a frame cut at its end is expected. */
  readonly truncated: boolean;
}

const endings: Readonly<Record<number, string>> = {
  [CaptureEnd.open]: 'not closed: the capturing process ended before the connection did',
  [CaptureEnd.complete]: 'complete',
  [CaptureEnd.directionLimit]: 'TRUNCATED at the per-direction limit (--capture-max-bytes)',
  [CaptureEnd.totalLimit]: 'TRUNCATED at the process-wide limit (--capture-max-total)',
  [CaptureEnd.slowDisk]: 'TRUNCATED: the disk fell behind the connection',
  [CaptureEnd.writeError]: 'TRUNCATED: a write to the capture file failed',
};

export function readCaptureFile(input: Uint8Array): CaptureFile {
  const magic = Buffer.from(input.subarray(0, CAPTURE_MAGIC.length)).toString('latin1');
  if (input.length < CAPTURE_HEADER_SIZE || magic !== CAPTURE_MAGIC) return { bytes: input, truncated: false };
  const header = Buffer.from(input.buffer, input.byteOffset, CAPTURE_HEADER_SIZE);
  const end = header[7] ?? CaptureEnd.open;
  const missed = header.readBigUInt64BE(16);
  const bytes = input.subarray(CAPTURE_HEADER_SIZE);
  const how = endings[end] ?? `unknown end ${end}`;
  const truncated = end !== CaptureEnd.complete;
  return { bytes, truncated, note: `capture ${how}: ${bytes.length} bytes captured${missed > 0n ? `, ${missed} bytes not captured` : ''}` };
}

/**
 * Codec throughput: encode, decode+verify and the CRC alone, for DATA payloads of 64 B .. 1 MiB.
 *
 *   npm run bench:codec            full run, writes bench/results/codec.json
 *   npm run bench:codec -- --smoke quick check, writes bench/results/codec.tmp.json
 *
 * Operations (MB/s counts wire bytes, header included, in 10^6 bytes):
 * - encode            encodeFrameParts of one DATA frame (header + CRC; the payload is not copied).
 * - encode batch      64 B only: FrameBatch.push of 256 frames, then take().
 * - decode+verify     one FrameDecoder.push of a buffer holding N whole DATA frames (≈1 MiB of
 *                     payload); frames are verified in place and counted by the handler.
 * - decode 64K chunks the same buffer pushed as 64 KiB slices, as a socket delivers it: frames
 *                     that straddle slices take the assembling (copying) path. For reference.
 * - crc alone         crc32 over the same buffer in one call: the floor decode+verify is measured
 *                     against (key ratio, target >= 0.80 at 64 KiB).
 * - crc per frame     crc32(header[0..16]) then crc32(payload, ·) per frame: the CRC work the
 *                     decoder cannot avoid. For reference.
 */

import { crc32 } from '../src/wire/crc32.ts';
import { FrameDecoder } from '../src/wire/decoder.ts';
import { encodeFrame, encodeFrameParts, FrameBatch } from '../src/wire/encoder.ts';
import { FrameType } from '../src/wire/frame-type.ts';
import { CRC_COVERED_HEADER, HEADER_SIZE } from '../src/wire/limits.ts';
import {
  benchArgs,
  caseBudget,
  describeMachine,
  formatNumber,
  formatSize,
  KiB,
  machineInfo,
  markdownTable,
  MiB,
  pseudoRandomBytes,
  runCases,
  sink,
  writeResults,
  type BenchCase,
  type CaseMeasurement,
} from './lib/report.ts';

const SIZES = [64, KiB, 16 * KiB, 64 * KiB, MiB] as const;
/** Payload bytes per decode buffer: N = PAYLOAD_PER_BUFFER / size frames. */
const PAYLOAD_PER_BUFFER = MiB;
const BATCH_FRAMES = 256;
const SOCKET_CHUNK = 64 * KiB;
const RATIO_SIZE = 64 * KiB;
const RATIO_TARGET = 0.8;
const STREAM = 1;

interface Fixture {
  readonly size: number;
  readonly frames: number;
  /** N whole DATA frames back to back. */
  readonly wire: Buffer;
  /** The same bytes cut into socket-sized slices. */
  readonly chunks: readonly Uint8Array[];
  /** Offsets of each frame in `wire`, for the per-frame CRC case. */
  readonly offsets: readonly number[];
  readonly payload: Buffer;
}

function fixture(size: number): Fixture {
  const frames = Math.max(1, Math.floor(PAYLOAD_PER_BUFFER / size));
  const pool = pseudoRandomBytes(frames * size);
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let seq = 0; seq < frames; seq++) {
    const payload = pool.subarray(seq * size, (seq + 1) * size);
    parts.push(encodeFrame({ type: FrameType.DATA, flags: 0, stream: STREAM, seq, payload }));
    offsets.push(at);
    at += HEADER_SIZE + size;
  }
  const wire = Buffer.concat(parts);
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < wire.length; o += SOCKET_CHUNK) chunks.push(wire.subarray(o, Math.min(o + SOCKET_CHUNK, wire.length)));
  return { size, frames, wire, chunks, offsets, payload: pool.subarray(0, size) };
}

/** A decoder whose handler counts frames; checked once on the fixture before timing. */
function countingDecoder(f: Fixture): { decoder: FrameDecoder; count: () => number } {
  let n = 0;
  const decoder = new FrameDecoder({ maxPayload: Math.max(f.size, KiB) }, () => {
    n++;
  });
  return { decoder, count: () => n };
}

function cases(f: Fixture): BenchCase[] {
  const { size, frames, wire } = f;
  const frameBytes = HEADER_SIZE + size;
  const tags = (op: string): Record<string, string | number> => ({ size, op, framesPerBuffer: frames });
  const out: BenchCase[] = [];

  let seq = 0;
  const payload = f.payload;
  out.push({
    name: `encode ${formatSize(size)}`,
    fn: () => {
      const [header] = encodeFrameParts({ type: FrameType.DATA, flags: 0, stream: STREAM, seq: seq++ >>> 0, payload });
      sink.value ^= header[16]!;
    },
    framesPerOp: 1,
    bytesPerOp: frameBytes,
    tags: tags('encode'),
  });

  if (size === 64) {
    const batch = new FrameBatch();
    let bseq = 0;
    out.push({
      name: `encode batch×${BATCH_FRAMES} ${formatSize(size)}`,
      fn: () => {
        for (let i = 0; i < BATCH_FRAMES; i++) batch.push(FrameType.DATA, 0, STREAM, bseq++ >>> 0, payload);
        sink.value ^= batch.take().length;
      },
      framesPerOp: BATCH_FRAMES,
      bytesPerOp: BATCH_FRAMES * frameBytes,
      tags: tags(`encode batch×${BATCH_FRAMES}`),
    });
  }

  const whole = countingDecoder(f);
  whole.decoder.push(wire);
  if (whole.count() !== frames || !whole.decoder.atBoundary) throw new Error(`decode ${formatSize(size)}: ${whole.count()} of ${frames} frames`);
  out.push({
    name: `decode+verify ${formatSize(size)}`,
    fn: () => {
      whole.decoder.push(wire);
    },
    framesPerOp: frames,
    bytesPerOp: wire.length,
    tags: tags('decode+verify'),
  });

  const sliced = countingDecoder(f);
  for (const c of f.chunks) sliced.decoder.push(c);
  if (sliced.count() !== frames || !sliced.decoder.atBoundary) throw new Error(`decode chunks ${formatSize(size)}: ${sliced.count()} of ${frames} frames`);
  const chunks = f.chunks;
  out.push({
    name: `decode+verify 64K chunks ${formatSize(size)}`,
    fn: () => {
      for (let i = 0; i < chunks.length; i++) sliced.decoder.push(chunks[i]!);
    },
    framesPerOp: frames,
    bytesPerOp: wire.length,
    tags: tags('decode+verify, 64 KiB chunks'),
  });

  out.push({
    name: `crc alone ${formatSize(size)}`,
    fn: () => (sink.value ^= crc32(wire)),
    framesPerOp: frames,
    bytesPerOp: wire.length,
    tags: tags('crc alone'),
  });

  const offsets = f.offsets;
  out.push({
    name: `crc per frame ${formatSize(size)}`,
    fn: () => {
      let s = 0;
      for (let i = 0; i < offsets.length; i++) {
        const at = offsets[i]!;
        const start = at + HEADER_SIZE;
        s ^= crc32(wire.subarray(start, start + size), crc32(wire.subarray(at, at + CRC_COVERED_HEADER)));
      }
      sink.value ^= s;
    },
    framesPerOp: frames,
    bytesPerOp: wire.length,
    tags: tags('crc per frame'),
  });
  return out;
}

async function main(): Promise<void> {
  const { smoke } = benchArgs();
  const machine = machineInfo();
  const budget = caseBudget(smoke);
  console.log(`# Codec benchmark${smoke ? ' (smoke)' : ''}\n\n${describeMachine(machine)}\n`);

  const results: CaseMeasurement[] = [];
  for (const size of SIZES) {
    results.push(...(await runCases(`codec ${formatSize(size)}`, cases(fixture(size)), budget)));
  }

  const rows = results.map((m) => [
    formatSize(Number(m.tags['size'])),
    String(m.tags['op']),
    formatNumber(m.opsPerSec),
    formatNumber(m.framesPerSec),
    formatNumber(m.mbPerSec),
    `±${m.rme.toFixed(1)}%`,
  ]);
  const table = markdownTable(['size', 'op', 'ops/s', 'frames/s', 'MB/s', 'rme'], rows);
  console.log(`\n${table}\n`);

  const get = (size: number, op: string): CaseMeasurement => {
    const m = results.find((r) => r.tags['size'] === size && r.tags['op'] === op);
    if (!m) throw new Error(`no result for ${op} ${formatSize(size)}`);
    return m;
  };
  const decode = get(RATIO_SIZE, 'decode+verify');
  const crcAlone = get(RATIO_SIZE, 'crc alone');
  const crcPerFrame = get(RATIO_SIZE, 'crc per frame');
  const ratio = decode.mbPerSec / crcAlone.mbPerSec;
  const ratioLine = `decode+verify / crc-alone (${formatSize(RATIO_SIZE)}) = ${ratio.toFixed(2)} (target >= ${RATIO_TARGET.toFixed(2)})${ratio >= RATIO_TARGET ? '' : '  ** BELOW TARGET **'}`;
  console.log(ratioLine);
  console.log(`  decode+verify ${formatNumber(decode.mbPerSec)} MB/s, crc alone ${formatNumber(crcAlone.mbPerSec)} MB/s, crc per frame ${formatNumber(crcPerFrame.mbPerSec)} MB/s`);

  const enc64 = get(64, 'encode');
  const batch64 = get(64, `encode batch×${BATCH_FRAMES}`);
  const dec64 = get(64, 'decode+verify');
  const smallLine = `64 B frames: encode ${formatNumber(enc64.framesPerSec)} frames/s, batch encode ${formatNumber(batch64.framesPerSec)} frames/s, decode+verify ${formatNumber(dec64.framesPerSec)} frames/s`;
  console.log(smallLine);

  const path = writeResults('codec', smoke, {
    machine,
    mode: smoke ? 'smoke' : 'full',
    budget,
    payloadPerDecodeBuffer: PAYLOAD_PER_BUFFER,
    socketChunk: SOCKET_CHUNK,
    ratio: {
      size: RATIO_SIZE,
      value: ratio,
      target: RATIO_TARGET,
      met: ratio >= RATIO_TARGET,
      decodeVerifyMBps: decode.mbPerSec,
      crcAloneMBps: crcAlone.mbPerSec,
      crcPerFrameMBps: crcPerFrame.mbPerSec,
    },
    frames64B: { encodePerSec: enc64.framesPerSec, batchEncodePerSec: batch64.framesPerSec, decodeVerifyPerSec: dec64.framesPerSec },
    results: results.map((m) => ({
      size: m.tags['size'],
      op: m.tags['op'],
      opsPerSec: m.opsPerSec,
      framesPerSec: m.framesPerSec,
      mbPerSec: m.mbPerSec,
      rme: m.rme,
      samples: m.samples,
      framesPerOp: m.framesPerOp,
      bytesPerOp: m.bytesPerOp,
    })),
    table,
  });
  console.log(`\nResults written to ${path}`);
}

await main();

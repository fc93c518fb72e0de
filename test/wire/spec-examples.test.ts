/**
 * The inline examples of spec/PROTOCOL.md (§3.2 and §7) are what an implementer copies first, so
 * they are checked like the vectors: each "Contiguous" frame is one frame for the independent
 * reference decoder (its CRC included), decodes with the codec, re-encodes to the same bytes in the
 * canonical form of §5.4, and agrees with the header fields printed above it.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeFrame, MAX_PAYLOAD_CEILING } from '../../src/wire/index.ts';
import { referenceDecode } from './reference-decoder.ts';
import { bytesToHex, decodeChunks, hexToBytes } from './vector-json.ts';

const spec = readFileSync(new URL('../../spec/PROTOCOL.md', import.meta.url), 'utf8');

interface Example {
  readonly hex: string;
  /** The header row printed in the example's text block, fields joined, or undefined (§3.2). */
  readonly header: string | undefined;
}

function examples(): Example[] {
  const out: Example[] = [];
  const contiguous = /^Contiguous: `([0-9a-f]+)`$/gmu;
  for (let m = contiguous.exec(spec); m !== null; m = contiguous.exec(spec)) {
    const before = spec.slice(0, m.index);
    const block = before.slice(before.lastIndexOf('```text'));
    const row = /\n([0-9a-f]{8}) ([0-9a-f]{2}) +([0-9a-f]{2}) +([0-9a-f]{4}) +([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})\n/u.exec(block);
    out.push({ hex: m[1]!, header: row === null ? undefined : row.slice(1).join('') });
  }
  const crcExample = /the whole\s+frame is `([0-9a-f]+)`/u.exec(spec);
  if (crcExample !== null) out.push({ hex: crcExample[1]!, header: undefined });
  return out;
}

describe('spec/PROTOCOL.md inline examples', () => {
  const all = examples();

  it('are all found (16 in §7 and the CRC example of §3.2)', () => {
    expect(all.length).toBe(17);
    expect(all.filter((e) => e.header !== undefined).length).toBe(16);
  });

  for (const [i, e] of all.entries()) {
    it(`example ${i + 1}: one valid frame that re-encodes to itself${e.header === undefined ? '' : ' and matches its header row'}`, () => {
      const bytes = hexToBytes(e.hex);
      const ref = referenceDecode(bytes);
      expect(ref.error).toBeUndefined();
      expect(ref.frames.length).toBe(1);
      const decoded = decodeChunks([bytes], MAX_PAYLOAD_CEILING);
      expect(decoded.error).toBeUndefined();
      expect(decoded.frames.length).toBe(1);
      expect(bytesToHex(encodeFrame(decoded.frames[0]!))).toBe(e.hex);
      if (e.header !== undefined) expect(e.hex.slice(0, 40)).toBe(e.header);
    });
  }
});

/**
 * The profile's wire schemas (spec/UPLOAD.md §11.2-§11.5): meta and trailer round trips, type and
 * bound checks as MALFORMED_PAYLOAD, unknown keys ignored, chunk geometry and the stored bitmap.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bitmapFrom,
  bitmapHas,
  chunkCountOf,
  chunkLengthOf,
  encodeChunkMeta,
  encodeCreateMeta,
  encodeStatusTrailer,
  isUploadId,
  parseChunkMeta,
  parseCreateMeta,
  parseStatusTrailer,
} from '../../src/upload/index.ts';
import { expectFwError } from './helpers.ts';

const sha = 'ab'.repeat(32);

describe('upload protocol schemas', () => {
  it('FW-UP-4: create and chunk meta round-trip; unknown keys are ignored', () => {
    const create = { size: 10, chunkSize: 4, sha256: sha, idempotencyKey: 'k', metadata: { name: 'a.bin' } };
    expect(parseCreateMeta({ ...encodeCreateMeta(create), future_key: 1 })).toEqual(create);
    const chunk = { index: 2, offset: 8, length: 2, sha256: sha, token: 3 };
    expect(parseChunkMeta({ ...encodeChunkMeta(chunk), x: null })).toEqual(chunk);
  });

  it('FW-UP-4: wrong types, nil, missing keys and out-of-bound values are MALFORMED_PAYLOAD', () => {
    const cases: unknown[] = [
      () => parseCreateMeta({ chunk_size: 4 }),
      () => parseCreateMeta({ size: -1, chunk_size: 4 }),
      () => parseCreateMeta({ size: 1.5, chunk_size: 4 }),
      () => parseCreateMeta({ size: 1, chunk_size: 4, sha256: 'AB'.repeat(32) }),
      () => parseCreateMeta({ size: 1, chunk_size: 4, idempotency_key: '' }),
      () => parseCreateMeta({ size: 1, chunk_size: 4, idempotency_key: 'x'.repeat(129) }),
      () => parseCreateMeta({ size: 1, chunk_size: 4, metadata: { a: 1 } }),
      () => parseCreateMeta({ size: 1, chunk_size: 4, sha256: null }),
      () => parseChunkMeta({ index: 0, offset: 0, length: 1, sha256: sha }),
      () => parseChunkMeta({ index: '0', offset: 0, length: 1, sha256: sha, token: 1 }),
    ];
    for (const c of cases) {
      let error: unknown;
      try {
        (c as () => unknown)();
      } catch (e) {
        error = e;
      }
      expectFwError(error, 'MALFORMED_PAYLOAD');
    }
  });

  it('FW-UP-3: upload ids are exactly 32 lowercase hex digits', () => {
    expect(isUploadId('0123456789abcdef0123456789abcdef')).toBe(true);
    for (const bad of ['', '0123456789ABCDEF0123456789abcdef', '../../etc/passwd', `${'a'.repeat(32)}\n`, 'a'.repeat(33)]) expect(isUploadId(bad)).toBe(false);
  });

  it('chunk geometry covers the object exactly; the stored bitmap round-trips through the status trailer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 3000 }), fc.array(fc.nat(), { maxLength: 50 }), (size, chunkSize, picks) => {
        const count = chunkCountOf(size, chunkSize);
        let total = 0;
        for (let i = 0; i < count; i++) {
          const len = chunkLengthOf(size, chunkSize, i);
          expect(len).toBeGreaterThan(0);
          expect(len).toBeLessThanOrEqual(chunkSize);
          total += len;
        }
        expect(total).toBe(size);
        const stored = new Set(count === 0 ? [] : picks.map((p) => p % count));
        const bitmap = bitmapFrom(count, stored);
        for (let i = 0; i < count; i++) expect(bitmapHas(bitmap, i)).toBe(stored.has(i));
        const status = { uploadId: 'f'.repeat(32), state: 'receiving' as const, size, chunkSize, chunkCount: count, expiresAt: 5, ttlMs: 5, stored: bitmap, storedChunks: stored.size, storedBytes: 0, token: 2 };
        expect(parseStatusTrailer(encodeStatusTrailer(status))).toEqual(status);
      }),
      { numRuns: 200 },
    );
  });
});

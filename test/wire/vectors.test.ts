/**
 * Runs the spec test vectors (spec/vectors/*.json, STYLE.md item 8) against the codec:
 * valid frames decode to exactly the listed fields and encode back to exactly the listed bytes,
 * invalid ones fail with the listed error code, unknown types are skipped and counted.
 * Every vector is decoded whole, one byte at a time and split in two at every position.
 */

import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSubscribe, SUBSCRIBE_KIND } from '../../src/events/protocol.ts';
import { isUploadId, parseChunkMeta, parseCommitMeta, parseCreateMeta, parseStatusMeta, UploadKind } from '../../src/upload/protocol.ts';
import { DataFlags, encodeFrame, FrameType, MAX_PAYLOAD_CEILING } from '../../src/wire/index.ts';
import { bytesToHex, chunkings, decodeChunks, frameToJson, hexToBytes, ignoredFile, invalidFile, jsonToFrame, validFile } from './vector-json.ts';

const allTypes = Object.values(FrameType);

describe('vector files', () => {
  it('cover every frame type, and more than once where the brief asks', () => {
    const count = (t: number): number => validFile.frames.filter((v) => v.frame.type === t).length;
    for (const t of allTypes) expect(count(t), `type ${t}`).toBeGreaterThan(0);
    for (const t of [FrameType.HELLO, FrameType.OPEN, FrameType.ERROR]) expect(count(t)).toBeGreaterThan(1);
    expect(validFile.frames.some((v) => v.frame.type === FrameType.DATA && (v.frame.flags & DataFlags.FOLLOWS) !== 0)).toBe(true);
    expect(validFile.frames.some((v) => v.frame.type === FrameType.DATA && v.frame.flags === DataFlags.PACKED)).toBe(true);
    expect(validFile.frames.some((v) => v.frame.type === FrameType.CREDIT && (v.frame.payload as number) > 2 ** 32)).toBe(true);
    expect(validFile.streams.length).toBeGreaterThan(0);
  });

  it('use the profiles\' kinds only as the profiles define them: valid meta, only known keys, a well-formed target', () => {
    const profileKeys: Readonly<Record<string, readonly string[]>> = {
      [UploadKind.create]: ['size', 'chunk_size', 'sha256', 'idempotency_key', 'metadata'],
      [UploadKind.status]: ['acquire'],
      [UploadKind.chunk]: ['index', 'offset', 'length', 'sha256', 'token'],
      [UploadKind.commit]: ['token', 'sha256'],
      [UploadKind.abort]: [],
      [SUBSCRIBE_KIND]: ['key', 'after', 'params'],
    };
    const parsers: Readonly<Record<string, (target: string | undefined, meta: Record<string, unknown> | undefined) => unknown>> = {
      [UploadKind.create]: (_t, m) => parseCreateMeta(m),
      [UploadKind.status]: (_t, m) => parseStatusMeta(m),
      [UploadKind.chunk]: (_t, m) => parseChunkMeta(m),
      [UploadKind.commit]: (_t, m) => parseCommitMeta(m),
      [UploadKind.abort]: () => undefined,
      [SUBSCRIBE_KIND]: (t, m) => parseSubscribe(t, m),
    };
    const opens = [...validFile.frames.map((v) => ({ name: v.name, frame: v.frame })), ...validFile.streams.flatMap((s) => s.frames.map((frame) => ({ name: s.name, frame })))].filter(
      (v) => v.frame.type === FrameType.OPEN,
    );
    let checked = 0;
    for (const { name, frame } of opens) {
      const open = jsonToFrame(frame);
      if (open.type !== FrameType.OPEN) continue;
      const { kind, target, meta } = open.payload;
      const known = profileKeys[kind];
      if (known === undefined) {
        expect(kind.startsWith('upload.') || kind.startsWith('events.'), `${name}: ${kind} is not a kind of its profile`).toBe(false);
        continue;
      }
      checked++;
      expect(() => parsers[kind]?.(target, meta), name).not.toThrow();
      for (const key of Object.keys(meta ?? {})) expect(known, `${name}: meta key "${key}" of ${kind}`).toContain(key);
      if (kind.startsWith('upload.') && kind !== UploadKind.create) expect(isUploadId(target ?? ''), `${name}: target`).toBe(true);
    }
    expect(checked).toBeGreaterThan(1);
  });

  it('name only registered error codes and have unique names', () => {
    for (const v of invalidFile.vectors) expect(Object.keys(ErrorCodes), v.name).toContain(v.error);
    const names = [...validFile.frames, ...validFile.streams, ...invalidFile.vectors, ...ignoredFile.vectors].map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('valid vectors', () => {
  for (const v of validFile.frames) {
    describe(v.name, () => {
      const bytes = hexToBytes(v.hex);

      it('decodes to exactly the listed frame, however the bytes are cut', () => {
        for (const { label, chunks } of chunkings(bytes)) {
          const r = decodeChunks(chunks, MAX_PAYLOAD_CEILING);
          expect(r.error, label).toBeUndefined();
          expect(r.ignored).toBe(0);
          expect(r.frames.map(frameToJson), label).toStrictEqual([v.frame]);
        }
      });

      if (v.decodeOnly === true) {
        it('is not the canonical encoding: re-encoding differs but decodes to the same frame', () => {
          const canonical = encodeFrame(jsonToFrame(v.frame));
          expect(bytesToHex(canonical)).not.toBe(v.hex);
          expect(decodeChunks([canonical], MAX_PAYLOAD_CEILING).frames.map(frameToJson)).toStrictEqual([v.frame]);
        });
      } else {
        it('encodes from the typed frame to exactly the listed bytes', () => {
          expect(bytesToHex(encodeFrame(jsonToFrame(v.frame)))).toBe(v.hex);
        });
      }
    });
  }

  for (const s of validFile.streams) {
    it(`${s.name}: decodes to the listed frames in order and re-encodes the known ones`, () => {
      const bytes = hexToBytes(s.hex);
      for (const { label, chunks } of chunkings(bytes)) {
        const r = decodeChunks(chunks, MAX_PAYLOAD_CEILING);
        expect(r.error, label).toBeUndefined();
        expect(r.ignored, label).toBe(s.ignoredFrames ?? 0);
        expect(r.frames.map(frameToJson), label).toStrictEqual(s.frames);
      }
      if (s.ignoredFrames === undefined) {
        expect(bytesToHex(Buffer.concat(s.frames.map((f) => encodeFrame(jsonToFrame(f)))))).toBe(s.hex);
      }
    });
  }
});

describe('invalid vectors', () => {
  for (const v of invalidFile.vectors) {
    it(`${v.name}: ${v.error}`, () => {
      const bytes = hexToBytes(v.hex);
      for (const { label, chunks } of chunkings(bytes)) {
        const r = decodeChunks(chunks, v.maxPayload ?? invalidFile.defaultMaxPayload);
        expect(r.error, `${label}: no error`).toBeDefined();
        expect(r.error!.code, `${label}: ${r.error!.message}`).toBe(v.error);
        expect(r.error!.wireCode).toBe(ErrorCodes[r.error!.code].code);
        expect(r.error!.remote).toBe(false);
      }
    });
  }
});

describe('ignored vectors', () => {
  for (const v of ignoredFile.vectors) {
    it(`${v.name}: emits nothing and counts ${v.ignoredFrames} ignored`, () => {
      for (const { label, chunks } of chunkings(hexToBytes(v.hex))) {
        const r = decodeChunks(chunks, MAX_PAYLOAD_CEILING);
        expect(r.error, label).toBeUndefined();
        expect(r.raw, label).toStrictEqual([]);
        expect(r.ignored, label).toBe(v.ignoredFrames);
      }
    });
  }
});

import { describe, expect, it } from 'vitest';
import { formatInspection, inspectBytes, parseCapture } from '../../src/cli/inspect.ts';
import { encodeFrame, FrameType, type Frame } from '../../src/wire/index.ts';

const frames: Frame[] = [
  { type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } },
  { type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'echo' } },
  { type: FrameType.DATA, flags: 1, stream: 1, seq: 1, payload: Buffer.from('hello world') },
  { type: FrameType.DONE, flags: 0, stream: 1, seq: 2, payload: {} },
];
const capture = Buffer.concat(frames.map(encodeFrame));

describe('framewire inspect', () => {
  it('prints one clean line per frame of a valid capture', () => {
    const result = inspectBytes(capture);
    expect(result.frames.map((f) => f.type)).toEqual(['HELLO', 'OPEN', 'DATA', 'DONE']);
    expect(result.violations).toBe(0);
    const lines = formatInspection(result);
    expect(lines[2]).toContain('DATA stream=1 seq=1 len=11 flags=0x01 crc=ok 11 bytes 68656c6c6f');
    expect(lines.at(-1)).toBe('4 frames, 0 violations');
  });

  it('accepts hex text with whitespace and 0x prefixes', () => {
    const hex = capture.toString('hex').replace(/(..)/g, '0x$1 ');
    expect(inspectBytes(parseCapture(Buffer.from(hex))).frames).toHaveLength(4);
  });

  it('flags a bad CRC and keeps reading the following frames', () => {
    const bad = Buffer.from(capture);
    const dataOffset = inspectBytes(capture).frames[2]!.offset;
    bad[dataOffset + 25]! ^= 0x01;
    const result = inspectBytes(bad);
    expect(result.frames).toHaveLength(4);
    expect(result.frames[2]!.crcOk).toBe(false);
    expect(result.frames[2]!.violations[0]).toMatch(/^BAD_CRC/);
    expect(result.frames[3]!.violations).toEqual([]);
  });

  it('flags seq gaps, wrong placement, reserved bits and truncation', () => {
    const gap = encodeFrame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 7, payload: Buffer.alloc(1) });
    const onZero = Buffer.from(encodeFrame({ type: FrameType.CREDIT, flags: 0, stream: 0, seq: 1, payload: 10 }));
    onZero[4] = FrameType.DATA; // DATA on stream 0 (CRC now wrong too)
    const reserved = Buffer.from(encodeFrame({ type: FrameType.PING, flags: 0, stream: 0, seq: 2, payload: Buffer.alloc(8) }));
    reserved[7] = 1;
    const result = inspectBytes(Buffer.concat([capture, gap, onZero, reserved, capture.subarray(0, 30)]));
    const v = result.frames.slice(4).map((f) => f.violations.join(' | '));
    expect(v[0]).toMatch(/SEQ_ERROR: expected seq 3/);
    expect(v[1]).toMatch(/WRONG_STREAM_KIND/);
    expect(v[2]).toMatch(/RESERVED_BITS/);
    expect(result.trailingBytes).toBe(30);
    expect(formatInspection(result).at(-2)).toMatch(/TRUNCATED/);
  });

  it('stops with FRAME_SIZE when a length exceeds the ceiling', () => {
    const huge = Buffer.alloc(20);
    huge.writeUInt32BE(0xffffffff, 0);
    const result = inspectBytes(Buffer.concat([capture, huge]));
    expect(result.frames.at(-1)!.violations[0]).toMatch(/^FRAME_SIZE/);
  });

  it('shows PACKED DATA as its messages and flags a malformed one (FW-PACK-2, FW-PACK-4)', () => {
    const record = (n: number): Buffer => Buffer.concat([Buffer.from([0, 0, 0, n]), Buffer.alloc(n, 0x61)]);
    const good = encodeFrame({ type: FrameType.DATA, flags: 0x02, stream: 1, seq: 1, payload: Buffer.concat([record(2), record(0), record(3)]) });
    const torn = encodeFrame({ type: FrameType.DATA, flags: 0x02, stream: 1, seq: 2, payload: Buffer.concat([record(2), Buffer.from([0, 0])]) });
    const both = encodeFrame({ type: FrameType.DATA, flags: 0x03, stream: 1, seq: 3, payload: record(1) });
    const result = inspectBytes(Buffer.concat([capture.subarray(0, inspectBytes(capture).frames[2]!.offset), good, torn, both]));
    const [g, t, b] = result.frames.slice(2);
    expect(g!.payload).toBe('PACKED 3 messages [2, 0, 3] bytes');
    expect(g!.violations).toEqual([]);
    expect(t!.violations.join()).toMatch(/PROTOCOL_ERROR: PACKED DATA: 2 bytes left after 1 messages/);
    expect(b!.violations.join()).toMatch(/FOLLOWS/);
  });
});

/** The PACKED payload codec (spec §8.2.6): layout, scanning, lazy reading, and the writer's buffer reuse. */

import { describe, expect, it } from 'vitest';
import { encodePacked, PACKED_LENGTH_SIZE, PackedReader, PackedWriter, scanPacked } from '../../src/wire/index.ts';

const msgs = (...texts: string[]): Buffer[] => texts.map((t) => Buffer.from(t));

describe('packed payloads', () => {
  it('encodePacked writes u32 lengths and bytes back to back (the §7.3 example)', () => {
    expect(encodePacked(msgs('hi', '', 'abc')).toString('hex')).toBe('0000000268690000000000000003616263');
  });

  it('scanPacked accepts exact tilings and names what is wrong with the rest (FW-PACK-4)', () => {
    expect(scanPacked(encodePacked(msgs('hi', '', 'abc')))).toEqual({ ok: true, messages: 3, longest: 3 });
    const problem = (payload: Uint8Array): string => {
      const scan = scanPacked(payload);
      return scan.ok ? 'accepted' : scan.problem;
    };
    expect(problem(new Uint8Array(0))).toMatch(/empty/);
    expect(problem(Buffer.from('000000026869ff', 'hex'))).toMatch(/1 bytes left/);
    expect(problem(Buffer.from('0000000568', 'hex'))).toMatch(/claims 5 bytes, 1 are left/);
  });

  it('PackedReader slices the messages in order and counts what is left', () => {
    const payload = encodePacked(msgs('one', 'two!', ''));
    const r = new PackedReader(payload, 3);
    expect(r.bytesLeft).toBe(7);
    expect(Buffer.from(r.next()).toString()).toBe('one');
    expect(r.messagesLeft).toBe(2);
    expect(r.bytesLeft).toBe(4);
    expect(Buffer.from(r.next()).toString()).toBe('two!');
    expect(r.next().length).toBe(0);
    expect(r.messagesLeft).toBe(0);
    expect(r.bytesLeft).toBe(0);
  });

  it('PackedWriter: finished payloads are never overwritten, across slabs', () => {
    const w = new PackedWriter();
    const out: { view: Buffer; copy: Buffer }[] = [];
    for (let i = 0; i < 2000; i++) {
      w.begin(1000);
      for (let k = 0; k <= i % 7; k++) w.add(Buffer.alloc(i % 100, i & 0xff));
      expect(w.length).toBe(((i % 7) + 1) * (PACKED_LENGTH_SIZE + (i % 100)));
      const view = w.finish();
      out.push({ view, copy: Buffer.from(view) });
    }
    for (const o of out) expect(o.view.equals(o.copy)).toBe(true);
  });

  it('PackedWriter with reuse: one scratch buffer for every payload', () => {
    const w = new PackedWriter(true);
    const buffers = new Set<ArrayBufferLike>();
    for (let i = 0; i < 100; i++) {
      w.begin(16 * 1024);
      w.add(Buffer.from(`message ${i}`));
      w.add(Buffer.from('x'));
      const p = w.finish();
      buffers.add(p.buffer);
      const r = new PackedReader(p, 2);
      expect(Buffer.from(r.next()).toString()).toBe(`message ${i}`);
    }
    expect(buffers.size).toBe(1);
  });
});

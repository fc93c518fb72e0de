/**
 * The Wireshark dissector (spec/wireshark/framewire.lua) against a real session: the bytes of a
 * conversation with our server are recorded, written to a pcap with synthetic TCP/IP headers
 * (segments cut at awkward places, so reassembly is exercised) and dissected with tshark. The
 * frames tshark reports must be the frames our decoder finds in the same bytes.
 * Skipped where tshark is not installed.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFrame } from '../../src/conformance/bytes.ts';
import { conformanceService } from '../../src/conformance/echo-service.ts';
import { createServer } from '../../src/server.ts';
import { DataFlags, encodeFrame, FrameDecoder, FrameType, frameTypeName, MAX_PAYLOAD_CEILING, type Frame } from '../../src/wire/index.ts';
import { writePcap, type Segment } from './pcap.ts';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const script = new URL('../../spec/wireshark/framewire.lua', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fw-dissector-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The records "hi", "" and "abc" as a PACKED payload (spec §7.3), built by hand. */
const packedPayload = Buffer.from('0000000268690000000000000003616263', 'hex');

/**
 * Records a short session with our server: handshake (we accept packed messages), an echo stream
 * with a FOLLOWS chain and a PACKED frame, a second one with a badly tiled PACKED frame (2 bytes
 * left over) that the server refuses, PINGs, and a bad-CRC frame that ends it.
 */
async function recordSession(): Promise<Segment[]> {
  const server = createServer({ services: [conformanceService()] });
  const { port } = await server.listen(0);
  const segments: Segment[] = [];
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve(); }));
  socket.on('data', (chunk: Buffer) => segments.push({ dir: 's2c', bytes: Buffer.from(chunk) }));
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve(); }));
  const send = (bytes: Uint8Array): void => {
    segments.push({ dir: 'c2s', bytes: Buffer.from(bytes) });
    socket.write(bytes);
  };
  const frame = (f: Frame): Buffer => encodeFrame(f);
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  send(frame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: { packedMessages: 1 }, agent: 'dissector-test' } }));
  await pause(50);
  const burst = Buffer.concat([
    frame({ type: FrameType.OPEN, flags: 0, stream: 1, seq: 0, payload: { kind: 'conformance.echo', target: 'wireshark' } }),
    frame({ type: FrameType.DATA, flags: DataFlags.FOLLOWS, stream: 1, seq: 1, payload: Buffer.from('hello ') }),
    frame({ type: FrameType.DATA, flags: 0, stream: 1, seq: 2, payload: Buffer.alloc(3000, 0x61) }),
    frame({ type: FrameType.DATA, flags: DataFlags.PACKED, stream: 1, seq: 3, payload: packedPayload }),
    frame({ type: FrameType.DONE, flags: 0, stream: 1, seq: 4, payload: { trailer: { bytes: 3011 } } }),
    frame({ type: FrameType.OPEN, flags: 0, stream: 3, seq: 0, payload: { kind: 'conformance.echo' } }),
    frame({ type: FrameType.DATA, flags: DataFlags.PACKED, stream: 3, seq: 1, payload: Buffer.concat([packedPayload, Buffer.alloc(2)]) }),
    frame({ type: FrameType.PING, flags: 0, stream: 0, seq: 1, payload: Buffer.from('01234567') }),
  ]);
  // Cut the burst at awkward places: inside a header, inside a payload.
  for (const [a, b] of [[0, 7], [7, 30], [30, 1000], [1000, burst.length]] as const) {
    send(burst.subarray(a, b));
    await pause(5);
  }
  await pause(100);
  send(buildFrame({ type: FrameType.PING, stream: 0, seq: 2, payload: Buffer.from('badcrc!!'), badCrc: true }));
  await Promise.race([closed, pause(2000)]);
  socket.destroy();
  await server.close({ deadlineMs: 100 });
  return segments;
}

/** The frames our decoder finds, in the order their last byte arrives (as tshark reports them). */
function expectedFrames(segments: readonly Segment[]): { type: string; stream: number; seq: number }[] {
  const out: { type: string; stream: number; seq: number }[] = [];
  const decoders = {
    c2s: new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING, skipCrc: true }, (f) => out.push({ type: frameTypeName(f.type), stream: f.stream, seq: f.seq })),
    s2c: new FrameDecoder({ maxPayload: MAX_PAYLOAD_CEILING, skipCrc: true }, (f) => out.push({ type: frameTypeName(f.type), stream: f.stream, seq: f.seq })),
  };
  for (const s of segments) decoders[s.dir].push(s.bytes);
  return out;
}

function tshark(pcap: string, fields: string[]): string[][] {
  const args = ['-X', `lua_script:${script}`, '-o', 'tcp.desegment_tcp_streams:TRUE', '-r', pcap, '-Y', 'framewire', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-E', 'separator=\t'];
  for (const f of fields) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t'));
}

describe('Wireshark dissector', () => {
  it.skipIf(!hasTshark)('dissects a recorded session: every frame, reassembled, with CRC status, control payloads and packed records', async () => {
    const segments = await recordSession();
    const pcap = join(dir, 'session.pcap');
    writeFileSync(pcap, writePcap(segments, 7070));
    const rows = tshark(pcap, ['framewire.type_name', 'framewire.stream', 'framewire.seq', 'framewire.crc.status', 'framewire.error.code', 'framewire.open.kind', 'framewire.hello.version', 'framewire.data.record.length', 'framewire.data.records', '_ws.col.Info']);
    const split = (col: number): string[] => rows.flatMap((r) => (r[col] ?? '').split('|').filter((x) => x !== ''));
    const expected = expectedFrames(segments);
    expect(split(0)).toEqual(expected.map((f) => f.type));
    expect(split(1).map(Number)).toEqual(expected.map((f) => f.stream));
    expect(split(2).map(Number)).toEqual(expected.map((f) => f.seq));
    const crc = split(3);
    expect(crc.filter((c) => c === 'bad')).toHaveLength(1);
    expect(crc.filter((c) => c === 'good')).toHaveLength(expected.length - 1);
    expect(split(4)).toContain('0x00000003'); // the server's ERROR BAD_CRC
    expect(split(4)).toContain('0x00000001'); // its PROTOCOL_ERROR for the badly tiled PACKED frame (FW-PACK-4)
    expect(split(5)).toEqual(['conformance.echo', 'conformance.echo']);
    expect(split(6)).toEqual(['1', '1']);
    // Our PACKED frame shows its 3 records; the bad one its 3 records, then the 2 bytes left over.
    // The server may pack its echo too (we declared packed_messages = 1): its records follow ours.
    expect(split(7).slice(0, 6)).toEqual(['2', '0', '3', '2', '0', '3']);
    expect(split(8)[0]).toBe('3');
    const info = rows.map((r) => r[9] ?? '').join('\n');
    expect(info).toContain('DATA s=1 seq=3 len=17 PACKED 3 records');
    expect(info).toContain('DATA s=3 seq=1 len=19 PACKED 3 records [MALFORMED]');
  }, 20_000);

  it.skipIf(!hasTshark)('honours the port preference', () => {
    const pcap = join(dir, 'other-port.pcap');
    const hello = encodeFrame({ type: FrameType.HELLO, flags: 0, stream: 0, seq: 0, payload: { versions: [1], settings: {} } });
    writeFileSync(pcap, writePcap([{ dir: 'c2s', bytes: hello }], 9999));
    expect(tshark(pcap, ['framewire.type_name'])).toEqual([]);
    const text = execFileSync('tshark', ['-X', `lua_script:${script}`, '-o', 'framewire.port:9999', '-r', pcap, '-T', 'fields', '-e', 'framewire.type_name'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(text.trim()).toBe('HELLO');
  });

  it.runIf(!hasTshark)('is skipped: tshark is not installed (apt-get install tshark to run it)', () => {
    expect(hasTshark).toBe(false);
  });
});

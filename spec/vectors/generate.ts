/**
 * Generates the wire test vectors (valid.json, invalid.json, ignored.json) in this folder.
 *
 *   npx tsx spec/vectors/generate.ts
 *
 * The bytes are built here from the header table of spec/PROTOCOL.md §3.1 (Buffer.writeUInt32BE
 * and node's own zlib.crc32) and MessagePack payloads from @msgpack/msgpack directly, or byte by
 * byte where a payload breaks a rule of §5 that no encoder would break: nothing is
 * imported from src/, so the vectors check the codec instead of echoing it. The expected typed
 * payloads are written out by hand next to the wire maps they describe. See README.md for the
 * JSON conventions. The output is deterministic: running the script twice gives the same files.
 */

import { writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { encode } from '@msgpack/msgpack';

// ---------------------------------------------------------------------------------------------
// Raw bytes, straight from the header table.

const T = {
  HELLO: 0x01,
  OPEN: 0x02,
  DATA: 0x03,
  CREDIT: 0x04,
  ACK: 0x05,
  DONE: 0x06,
  ERROR: 0x07,
  CANCEL: 0x08,
  PING: 0x09,
  GOAWAY: 0x0a,
} as const;

type TypeName = keyof typeof T;

const typeNames = new Map<number, TypeName>(Object.entries(T).map(([name, code]) => [code, name as TypeName]));

interface RawSpec {
  readonly type: number;
  readonly flags?: number;
  readonly stream: number;
  readonly seq?: number;
  readonly payload?: Uint8Array;
  /** Overrides the length field (the payload bytes are still the ones given). */
  readonly length?: number;
  /** Value of header bytes 6..7. */
  readonly reserved?: number;
}

function frameBytes(spec: RawSpec): Buffer {
  const payload = spec.payload ?? new Uint8Array(0);
  const header = Buffer.alloc(20);
  header.writeUInt32BE(spec.length ?? payload.length, 0);
  header.writeUInt8(spec.type, 4);
  header.writeUInt8(spec.flags ?? 0, 5);
  header.writeUInt16BE(spec.reserved ?? 0, 6);
  header.writeUInt32BE(spec.stream, 8);
  header.writeUInt32BE(spec.seq ?? 0, 12);
  header.writeUInt32BE(crc32(payload, crc32(header.subarray(0, 16))), 16);
  return Buffer.concat([header, payload]);
}

function flipBit(bytes: Buffer, byte: number, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[byte] = (out[byte] ?? 0) ^ (1 << bit);
  return out;
}

const mp = (value: unknown): Uint8Array => encode(value);
/** The nesting limit of control payloads (spec §5.2). */
const MAX_DEPTH = 32;
/** Maps nested `levels` deep: {"n": {"n": … {}}}. */
function nestedMaps(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { n: v };
  return v;
}
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');
const u64 = (hi: number, lo: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(hi, 0);
  b.writeUInt32BE(lo, 4);
  return b;
};
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
};

/** JSON form of a MessagePack value inside a typed payload: binary becomes {"$bin": hex}. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function toJson(value: unknown): Json {
  if (value instanceof Uint8Array) return { $bin: hex(value) };
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  throw new TypeError(`no JSON form for ${typeof value}`);
}

// ---------------------------------------------------------------------------------------------
// Valid frames.

interface ValidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly frame: {
    readonly type: number;
    readonly typeName: TypeName;
    readonly flags: number;
    readonly stream: number;
    readonly seq: number;
    readonly payload: Json;
  };
}

interface ValidSpec {
  readonly name: string;
  readonly description: string;
  readonly type: TypeName;
  readonly flags?: number;
  readonly stream: number;
  readonly seq?: number;
  /** The payload bytes on the wire. */
  readonly wire: Uint8Array;
  /** The decoded typed payload (src/wire/frame.ts), in JSON form. */
  readonly payload: unknown;
}

function valid(spec: ValidSpec): ValidVector {
  const type = T[spec.type];
  const flags = spec.flags ?? 0;
  const seq = spec.seq ?? 0;
  const payload = spec.type === 'DATA' || spec.type === 'PING' ? hex(spec.wire) : toJson(spec.payload);
  return {
    name: spec.name,
    description: spec.description,
    hex: hex(frameBytes({ type, flags, stream: spec.stream, seq, payload: spec.wire })),
    frame: { type, typeName: spec.type, flags, stream: spec.stream, seq, payload },
  };
}

const sha = bytes('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
/** An upload id (UPLOAD.md §11.2: 32 lowercase hex digits) and a chunk meta valid for it. */
const uploadId = '7f3a9c0e5b2d4f6a8c1e3b5d7f9a2c4e';
const chunkMeta = { index: 12, offset: 12 * 1024, length: 1024, sha256: sha.toString('hex'), token: 1 };
const pingData = bytes('0102030405060708');

/**
 * Control maps list their keys in the canonical order of the reference encoder (README.md):
 * HELLO versions, settings, auth, agent; OPEN kind, target, meta, urgency; ERROR code, message,
 * retryable, retry_after_ms, details; CANCEL code, reason; GOAWAY last_stream, code, message,
 * deadline_ms; settings in the order of spec §6.
 */
const validSpecs: ValidSpec[] = [
  {
    name: 'hello-minimal',
    description: 'HELLO with one version and no settings (every setting takes its default).',
    type: 'HELLO',
    stream: 0,
    wire: mp({ versions: [1], settings: {} }),
    payload: { versions: [1], settings: {} },
  },
  {
    name: 'hello-all-settings',
    description: 'HELLO offering versions 1 and 2 with every setting, an agent string and auth in the token form of the reference server (§7.1).',
    type: 'HELLO',
    stream: 0,
    wire: mp({
      versions: [1, 2],
      settings: {
        max_frame_payload: 1024,
        initial_stream_credit: 262144,
        initial_connection_credit: 0x7fffffff,
        max_concurrent_streams: 0,
        max_message_size: 0,
        heartbeat_interval_ms: 3600000,
        idle_timeout_ms: 86400000,
        packed_messages: 1,
      },
      auth: { token: 's3cret' },
      agent: 'framewire/0.1.0',
    }),
    payload: {
      versions: [1, 2],
      settings: {
        maxFramePayload: 1024,
        initialStreamCredit: 262144,
        initialConnectionCredit: 0x7fffffff,
        maxConcurrentStreams: 0,
        maxMessageSize: 0,
        heartbeatIntervalMs: 3600000,
        idleTimeoutMs: 86400000,
        packedMessages: 1,
      },
      auth: { token: 's3cret' },
      agent: 'framewire/0.1.0',
    },
  },
  {
    name: 'hello-bin-auth-max-payload',
    description: 'HELLO with a binary auth token and the largest max_frame_payload (16 MiB).',
    type: 'HELLO',
    stream: 0,
    wire: mp({ versions: [1], settings: { max_frame_payload: 16 * 1024 * 1024 }, auth: sha }),
    payload: { versions: [1], settings: { maxFramePayload: 16 * 1024 * 1024 }, auth: sha },
  },
  {
    name: 'hello-unknown-setting-ignored',
    description: 'HELLO whose settings carry a key this version does not know (FW-SET-3): it is ignored, so this vector only decodes (re-encoding drops the key and is not byte-identical).',
    type: 'HELLO',
    stream: 0,
    wire: mp({ versions: [1], settings: { idle_timeout_ms: 1000, future_setting: 7 } }),
    payload: { versions: [1], settings: { idleTimeoutMs: 1000 } },
  },
  {
    name: 'open-minimal',
    description: 'OPEN with only the required kind.',
    type: 'OPEN',
    stream: 1,
    wire: mp({ kind: 'echo' }),
    payload: { kind: 'echo' },
  },
  {
    name: 'open-full',
    description: 'OPEN with kind, target, metadata and urgency 0: an upload.chunk valid for the upload profile (UPLOAD.md §11.4.3: a 32-hex-digit upload id, index 12 of 1 KiB chunks, the SHA-256 as 64 hex digits, token 1).',
    type: 'OPEN',
    stream: 3,
    wire: mp({ kind: 'upload.chunk', target: uploadId, meta: chunkMeta, urgency: 0 }),
    payload: { kind: 'upload.chunk', target: uploadId, meta: chunkMeta, urgency: 0 },
  },
  {
    name: 'open-binary-meta',
    description: 'OPEN of an application kind whose metadata holds a binary, a nil, a float and a nested map.',
    type: 'OPEN',
    stream: 5,
    wire: mp({ kind: 'app.thumbnail', meta: { digest: sha, previous: null, scale: 0.5, size: { w: 640, h: 480 } } }),
    payload: { kind: 'app.thumbnail', meta: { digest: sha, previous: null, scale: 0.5, size: { w: 640, h: 480 } } },
  },
  {
    name: 'open-urgency-7',
    description: 'OPEN with the least urgent urgency, 7, on a large stream id.',
    type: 'OPEN',
    stream: 0x7ffffffe,
    wire: mp({ kind: 'events.subscribe', target: 'orders', urgency: 7 }),
    payload: { kind: 'events.subscribe', target: 'orders', urgency: 7 },
  },
  {
    name: 'data-empty',
    description: 'DATA with an empty payload (a zero-length message).',
    type: 'DATA',
    stream: 1,
    seq: 1,
    wire: new Uint8Array(0),
    payload: undefined,
  },
  {
    name: 'data-hello',
    description: 'DATA carrying the five bytes "hello", the last frame of its message.',
    type: 'DATA',
    stream: 1,
    seq: 2,
    wire: Buffer.from('hello'),
    payload: undefined,
  },
  {
    name: 'data-follows',
    description: 'DATA with the FOLLOWS flag (0x01): more frames of the same message follow.',
    type: 'DATA',
    flags: 0x01,
    stream: 5,
    seq: 7,
    wire: Buffer.from('first part of a message, '),
    payload: undefined,
  },
  {
    name: 'data-max-ids',
    description: 'DATA with the largest stream id and seq (u32 0xffffffff) and every byte value.',
    type: 'DATA',
    stream: 0xffffffff,
    seq: 0xffffffff,
    wire: Uint8Array.from({ length: 256 }, (_, i) => i),
    payload: undefined,
  },
  {
    name: 'data-packed',
    description: 'DATA with the PACKED flag (0x02), the example of spec §7.3: the messages "hi", "" and "abc", each behind a u32 length (§8.2.6). The codec hands the payload on as it is; unpacking it is the session\'s job.',
    type: 'DATA',
    flags: 0x02,
    stream: 1,
    seq: 0,
    wire: Buffer.concat([u32(2), Buffer.from('hi'), u32(0), u32(3), Buffer.from('abc')]),
    payload: undefined,
  },
  {
    name: 'credit-connection',
    description: 'CREDIT on stream 0: the connection window reaches absolute offset 1 MiB.',
    type: 'CREDIT',
    stream: 0,
    wire: u64(0, 1024 * 1024),
    payload: 1024 * 1024,
  },
  {
    name: 'credit-above-2-32',
    description: 'CREDIT on a stream with an offset above 2^32 (both u32 halves matter).',
    type: 'CREDIT',
    stream: 9,
    seq: 3,
    wire: u64(0x1, 0x00000005),
    payload: 0x1_0000_0005,
  },
  {
    name: 'credit-max-safe',
    description: 'CREDIT with the largest allowed offset, 2^53-1 (FW-FLOW-6).',
    type: 'CREDIT',
    stream: 9,
    wire: u64(0x1fffff, 0xffffffff),
    payload: Number.MAX_SAFE_INTEGER,
  },
  {
    name: 'ack',
    description: 'ACK: every frame up to seq 41 on stream 1 was processed.',
    type: 'ACK',
    stream: 1,
    seq: 4,
    wire: u32(41),
    payload: 41,
  },
  {
    name: 'ack-max',
    description: 'ACK of seq 0xffffffff.',
    type: 'ACK',
    stream: 2,
    wire: u32(0xffffffff),
    payload: 0xffffffff,
  },
  {
    name: 'done-empty',
    description: 'DONE without a trailer: empty payload.',
    type: 'DONE',
    stream: 1,
    seq: 3,
    wire: new Uint8Array(0),
    payload: {},
  },
  {
    name: 'done-trailer',
    description: 'DONE with a trailer map (a digest and a count).',
    type: 'DONE',
    stream: 3,
    seq: 100,
    wire: mp({ sha256: sha, chunks: 42, ok: true, note: null }),
    payload: { trailer: { sha256: sha, chunks: 42, ok: true, note: null } },
  },
  {
    name: 'done-empty-trailer',
    description: 'DONE whose trailer is an empty map (0x80): distinct from no trailer.',
    type: 'DONE',
    stream: 3,
    wire: mp({}),
    payload: { trailer: {} },
  },
  {
    name: 'done-trailer-depth-32',
    description: 'DONE whose trailer nests maps 32 levels deep (the trailer itself is level 1): the deepest a control payload may go (FW-CTRL-3).',
    type: 'DONE',
    stream: 3,
    wire: mp(nestedMaps(MAX_DEPTH)),
    payload: { trailer: nestedMaps(MAX_DEPTH) },
  },
  {
    name: 'done-trailer-utf8',
    description: 'DONE whose trailer has keys and values with 2-, 3- and 4-byte UTF-8 sequences and a byte-order mark, all kept as they are.',
    type: 'DONE',
    stream: 3,
    wire: mp({ 'größe': 'ok', '名前': '\ufeffbom', 'emoji': '😀' }),
    payload: { trailer: { 'größe': 'ok', '名前': '\ufeffbom', 'emoji': '😀' } },
  },
  {
    name: 'error-connection',
    description: 'ERROR on stream 0: PROTOCOL_ERROR, the connection is closing.',
    type: 'ERROR',
    stream: 0,
    seq: 5,
    wire: mp({ code: 0x01, message: 'unexpected frame' }),
    payload: { code: 0x01, message: 'unexpected frame' },
  },
  {
    name: 'error-stream-full',
    description: 'ERROR on a stream with every key: LIMIT_EXCEEDED, retryable, retry_after_ms and details.',
    type: 'ERROR',
    stream: 7,
    seq: 2,
    wire: mp({ code: 0x17, message: 'too many uploads', retryable: true, retry_after_ms: 1500, details: { limit: 'uploads', max: 8 } }),
    payload: { code: 0x17, message: 'too many uploads', retryable: true, retryAfterMs: 1500, details: { limit: 'uploads', max: 8 } },
  },
  {
    name: 'error-unregistered-code',
    description: 'ERROR with a code this version does not register: the codec keeps it as is.',
    type: 'ERROR',
    stream: 7,
    wire: mp({ code: 0xabcd, message: '' }),
    payload: { code: 0xabcd, message: '' },
  },
  {
    name: 'error-message-absent',
    description: 'ERROR without a message key decodes with message "" (decode only: the encoder always writes the key).',
    type: 'ERROR',
    stream: 0,
    wire: mp({ code: 0x12 }),
    payload: { code: 0x12, message: '' },
  },
  {
    name: 'cancel-empty',
    description: 'CANCEL with an empty payload (reason CANCELLED).',
    type: 'CANCEL',
    stream: 4,
    seq: 1,
    wire: new Uint8Array(0),
    payload: {},
  },
  {
    name: 'cancel-code-reason',
    description: 'CANCEL with a code and a reason.',
    type: 'CANCEL',
    stream: 4,
    wire: mp({ code: 0x0f, reason: 'user closed the tab' }),
    payload: { code: 0x0f, reason: 'user closed the tab' },
  },
  {
    name: 'ping',
    description: 'PING with 8 opaque bytes.',
    type: 'PING',
    stream: 0,
    seq: 11,
    wire: pingData,
    payload: undefined,
  },
  {
    name: 'ping-ack',
    description: 'PING answer: the same 8 bytes with the ACK flag (0x01).',
    type: 'PING',
    flags: 0x01,
    stream: 0,
    seq: 12,
    wire: pingData,
    payload: undefined,
  },
  {
    name: 'goaway-graceful',
    description: 'GOAWAY: graceful (NO_ERROR), no stream accepted.',
    type: 'GOAWAY',
    stream: 0,
    wire: mp({ last_stream: 0, code: 0 }),
    payload: { lastStream: 0, code: 0 },
  },
  {
    name: 'goaway-full',
    description: 'GOAWAY with every key: last stream 42, IDLE_TIMEOUT, a message and a deadline.',
    type: 'GOAWAY',
    stream: 0,
    seq: 9,
    wire: mp({ last_stream: 42, code: 0x10, message: 'idle', deadline_ms: 5000 }),
    payload: { lastStream: 42, code: 0x10, message: 'idle', deadlineMs: 5000 },
  },
];

/** Vectors that decode to the listed frame but whose bytes are not the canonical encoding. */
const decodeOnly = new Set(['hello-unknown-setting-ignored', 'error-message-absent']);

const validVectors = validSpecs.map((s) => ({ ...valid(s), ...(decodeOnly.has(s.name) ? { decodeOnly: true } : {}) }));

function byName(name: string): ValidVector {
  const v = validVectors.find((x) => x.name === name);
  if (v === undefined) throw new Error(`no valid vector ${name}`);
  return v;
}

// The packed example frame is printed in spec §7.3; the vector must be exactly those bytes.
const specPackedExample = '000000110302000000000001000000005f0ebc280000000268690000000000000003616263';
if (byName('data-packed').hex !== specPackedExample) throw new Error(`data-packed differs from the example of spec §7.3: ${byName('data-packed').hex}`);

const streamParts = ['hello-minimal', 'open-full', 'data-follows', 'data-hello', 'credit-above-2-32', 'ack', 'done-trailer', 'ping-ack', 'goaway-full'].map(byName);

const streams = [
  {
    name: 'stream-mixed',
    description: 'Nine frames of different types back to back, as one TCP byte stream would carry them.',
    hex: streamParts.map((v) => v.hex).join(''),
    frames: streamParts.map((v) => v.frame),
  },
  {
    name: 'stream-with-unknown-type',
    description: 'A frame of unknown type 0x7f between two known frames: skipped, the others are emitted.',
    hex: byName('ping').hex + hex(frameBytes({ type: 0x7f, stream: 3, seq: 1, payload: Buffer.from('future') })) + byName('data-empty').hex,
    frames: [byName('ping').frame, byName('data-empty').frame],
    ignoredFrames: 1,
  },
];

// ---------------------------------------------------------------------------------------------
// Invalid frames.

interface InvalidVector {
  readonly name: string;
  readonly description: string;
  readonly hex: string;
  readonly maxPayload?: number;
  readonly error: string;
}

const invalidVectors: InvalidVector[] = [];
const invalid = (name: string, description: string, b: Uint8Array, error: string, maxPayload?: number): void => {
  invalidVectors.push({ name, description, hex: hex(b), ...(maxPayload === undefined ? {} : { maxPayload }), error });
};

const dataFrame = frameBytes({ type: T.DATA, stream: 1, seq: 2, payload: Buffer.from('hello') });

// CRC (FW-FRAME-4: checked right after the length).
invalid('crc-header-byte-flipped', 'DATA "hello" with bit 0 of the seq field (header byte 15) flipped.', flipBit(dataFrame, 15, 0), 'BAD_CRC');
invalid('crc-payload-byte-flipped', 'DATA "hello" with bit 5 of its first payload byte flipped.', flipBit(dataFrame, 20, 5), 'BAD_CRC');
invalid('crc-field-flipped', 'DATA "hello" with bit 7 of the CRC field itself flipped.', flipBit(dataFrame, 16, 7), 'BAD_CRC');
invalid('crc-type-flipped-to-unknown', 'DATA "hello" with the type byte changed to 0x83: the CRC fails before the type is looked at.', flipBit(dataFrame, 4, 7), 'BAD_CRC');
invalid('crc-empty-payload-zero-crc', 'An empty DATA frame whose CRC field is 0.', Buffer.concat([frameBytes({ type: T.DATA, stream: 1 }).subarray(0, 16), Buffer.alloc(4)]), 'BAD_CRC');
invalid(
  'crc-before-reserved',
  'Non-zero reserved bytes AND a bad CRC: the CRC is checked first (FW-FRAME-4).',
  flipBit(frameBytes({ type: T.DATA, stream: 1, reserved: 1, payload: Buffer.from('x') }), 20, 0),
  'BAD_CRC',
);

// Length.
const over = Buffer.alloc(1025, 0x61);
invalid('length-over-max', 'DATA of 1025 bytes with maxPayload 1024 (valid CRC).', frameBytes({ type: T.DATA, stream: 1, payload: over }), 'FRAME_SIZE', 1024);
invalid(
  'length-over-max-header-only',
  'A header announcing 4097 bytes with maxPayload 4096: rejected on the header alone, before any payload arrives or is allocated.',
  frameBytes({ type: T.DATA, stream: 1, length: 4097 }),
  'FRAME_SIZE',
  4096,
);
invalid(
  'length-over-ceiling',
  'A header announcing 16 MiB + 1 bytes: over the hard ceiling whatever the negotiated maximum (header only).',
  frameBytes({ type: T.DATA, stream: 1, length: 16 * 1024 * 1024 + 1 }),
  'FRAME_SIZE',
);
invalid('length-0xffffffff', 'A header announcing 0xffffffff bytes (header only).', frameBytes({ type: T.DATA, stream: 1, length: 0xffffffff }), 'FRAME_SIZE');
invalid(
  'length-before-crc',
  'Length over maxPayload AND a bad CRC: the length is checked first, on the header alone.',
  flipBit(frameBytes({ type: T.DATA, stream: 1, payload: Buffer.alloc(100) }), 30, 0),
  'FRAME_SIZE',
  64,
);
invalid(
  'unknown-type-over-max',
  'An unknown frame type is still subject to the length limit.',
  frameBytes({ type: 0x7f, stream: 0, payload: Buffer.alloc(65) }),
  'FRAME_SIZE',
  64,
);

// Reserved bytes.
invalid('reserved-byte-6', 'DATA with reserved byte 6 = 0x80 (valid CRC).', frameBytes({ type: T.DATA, stream: 1, reserved: 0x8000, payload: Buffer.from('x') }), 'RESERVED_BITS');
invalid('reserved-byte-7', 'PING with reserved byte 7 = 0x01 (valid CRC).', frameBytes({ type: T.PING, stream: 0, reserved: 0x0001, payload: pingData }), 'RESERVED_BITS');
invalid(
  'reserved-before-placement',
  'Reserved bytes set AND a wrong placement (DATA on stream 0): reserved bytes are checked first.',
  frameBytes({ type: T.DATA, stream: 0, reserved: 0x0100 }),
  'RESERVED_BITS',
);
invalid('reserved-on-unknown-type', 'An unknown type with reserved bytes set is an error, not skipped.', frameBytes({ type: 0x7f, stream: 0, reserved: 0x0001 }), 'RESERVED_BITS');
invalid('crc-on-unknown-type', 'An unknown type with a bad CRC is an error, not skipped (FW-FRAME-7).', flipBit(frameBytes({ type: 0x7f, stream: 0, payload: Buffer.from('?') }), 20, 1), 'BAD_CRC');

// Placement (FW-FRAME-6).
const streamOnly: [TypeName, Uint8Array][] = [
  ['OPEN', mp({ kind: 'echo' })],
  ['DATA', Buffer.from('x')],
  ['ACK', u32(0)],
  ['DONE', new Uint8Array(0)],
  ['CANCEL', new Uint8Array(0)],
];
for (const [name, payload] of streamOnly) {
  invalid(`placement-${name.toLowerCase()}-on-stream-0`, `${name} (otherwise valid) on stream 0.`, frameBytes({ type: T[name], stream: 0, payload }), 'WRONG_STREAM_KIND');
}
const connectionOnly: [TypeName, Uint8Array][] = [
  ['HELLO', mp({ versions: [1], settings: {} })],
  ['PING', pingData],
  ['GOAWAY', mp({ last_stream: 0, code: 0 })],
];
for (const [name, payload] of connectionOnly) {
  invalid(`placement-${name.toLowerCase()}-on-a-stream`, `${name} (otherwise valid) on stream 1.`, frameBytes({ type: T[name], stream: 1, payload }), 'WRONG_STREAM_KIND');
}
invalid('placement-hello-on-stream-max', 'HELLO on stream 0xffffffff.', frameBytes({ type: T.HELLO, stream: 0xffffffff, payload: mp({ versions: [1], settings: {} }) }), 'WRONG_STREAM_KIND');

// Truncation: a strict prefix, then the end of input.
invalid('truncated-1-byte', 'One byte of a header, then end of input.', dataFrame.subarray(0, 1), 'TRUNCATED');
invalid('truncated-header', '19 bytes of a header, then end of input.', dataFrame.subarray(0, 19), 'TRUNCATED');
invalid('truncated-header-only', 'A complete header announcing 5 payload bytes and none of them.', dataFrame.subarray(0, 20), 'TRUNCATED');
invalid('truncated-payload', 'DATA "hello" without its last byte.', dataFrame.subarray(0, dataFrame.length - 1), 'TRUNCATED');
invalid('truncated-after-valid-frame', 'A complete PING, then half of the next header.', Buffer.concat([byteOf('ping'), dataFrame.subarray(0, 10)]), 'TRUNCATED');

function byteOf(name: string): Buffer {
  return bytes(byName(name).hex);
}

// Malformed MessagePack payloads (spec §5): MALFORMED_PAYLOAD.
const mal = (name: string, description: string, type: TypeName, stream: number, payload: Uint8Array): void => {
  invalid(name, description, frameBytes({ type: T[type], stream, payload }), 'MALFORMED_PAYLOAD');
};
mal('msgpack-not-msgpack', 'HELLO whose payload is the byte 0xc1, never used by MessagePack.', 'HELLO', 0, bytes('c1'));
mal('msgpack-hello-empty', 'HELLO with an empty payload (no map at all).', 'HELLO', 0, new Uint8Array(0));
mal('msgpack-cut-short', 'OPEN whose map announces 2 entries and carries 1.', 'OPEN', 1, mp({ kind: 'echo', target: 't' }).subarray(0, 11));
mal('msgpack-not-a-map-array', 'HELLO whose payload is an array, not a map.', 'HELLO', 0, mp([1]));
mal('msgpack-not-a-map-string', 'DONE whose trailer is a string, not a map.', 'DONE', 1, mp('done'));
mal('msgpack-not-a-map-nil', 'ERROR whose payload is nil.', 'ERROR', 1, mp(null));
mal('msgpack-not-a-map-bin', 'GOAWAY whose payload is binary.', 'GOAWAY', 0, mp(Buffer.from('go')));
mal('msgpack-not-a-map-ext', 'DONE whose trailer is a zero-length ext value (ext8, type 5): not a map.', 'DONE', 1, bytes('c70005'));
mal('msgpack-ext-in-meta', 'OPEN whose meta is a zero-length ext value, not a map.', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('meta'), bytes('c70005')]));
mal('msgpack-trailing-bytes', 'ERROR: a complete map followed by one extra byte.', 'ERROR', 1, Buffer.concat([mp({ code: 1, message: 'x' }), bytes('00')]));
mal('msgpack-proto-key', 'DONE trailer with the key "__proto__".', 'DONE', 1, Buffer.concat([bytes('81'), mp('__proto__'), mp(1)]));
// §5.1 keys (FW-CTRL-2): strings only, never twice in one map.
mal('msgpack-key-duplicate', 'OPEN whose map has the key "kind" twice ("echo", then "other").', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('kind'), mp('other')]));
mal('msgpack-key-duplicate-in-meta', 'OPEN whose meta has the key "a" twice.', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('meta'), bytes('82'), mp('a'), mp(1), mp('a'), mp(2)]));
mal('msgpack-key-integer', 'OPEN whose map has the integer key 1 beside "kind".', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp(1), mp('x')]));
mal('msgpack-key-float', 'DONE trailer whose only key is the float64 1.5.', 'DONE', 1, Buffer.concat([bytes('81cb3ff8000000000000'), mp(true)]));
mal('msgpack-key-float-integral', 'ERROR whose details map has the float64 key 2.0.', 'ERROR', 1, Buffer.concat([bytes('83'), mp('code'), mp(1), mp('message'), mp('x'), mp('details'), bytes('81cb4000000000000000'), mp(0)]));
mal('msgpack-key-nil', 'CANCEL whose map has a nil key.', 'CANCEL', 1, Buffer.concat([bytes('81c0'), mp('x')]));
// §5.2 limits (FW-CTRL-3): no extension value at all, no nesting deeper than 32.
mal('msgpack-ext-empty-in-meta-value', 'OPEN whose meta holds a zero-length ext8 (type 5) as a value.', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('meta'), bytes('81'), mp('x'), bytes('c70005')]));
mal('msgpack-ext-fixext1-in-trailer', 'DONE trailer holding a fixext1 value.', 'DONE', 1, Buffer.concat([bytes('81'), mp('x'), bytes('d40501')]));
mal('msgpack-depth-33', 'DONE trailer whose maps nest 33 levels deep, one more than §5.2 allows.', 'DONE', 1, mp(nestedMaps(MAX_DEPTH + 1)));
mal('msgpack-depth-33-arrays', 'OPEN whose meta holds arrays nested so that the payload reaches 33 levels.', 'OPEN', 1, mp({ kind: 'echo', meta: { a: JSON.parse(`${'['.repeat(MAX_DEPTH - 1)}${']'.repeat(MAX_DEPTH - 1)}`) as unknown } }));
// §5.3 strings (FW-CTRL-7): valid UTF-8 everywhere.
mal('msgpack-utf8-invalid-kind', 'OPEN whose kind is the bytes ff fe fd, not UTF-8.', 'OPEN', 1, Buffer.concat([bytes('81'), mp('kind'), bytes('a3fffefd')]));
mal('msgpack-utf8-invalid-key', 'DONE trailer whose key is the bytes c3 28 (a cut 2-byte sequence).', 'DONE', 1, Buffer.concat([bytes('81a2c328'), mp(1)]));
mal('msgpack-utf8-surrogate', 'ERROR whose message encodes the surrogate U+D800 (ed a0 80), which UTF-8 excludes.', 'ERROR', 1, Buffer.concat([bytes('82'), mp('code'), mp(1), mp('message'), bytes('a3eda080')]));
mal('msgpack-utf8-overlong-in-meta', 'OPEN whose meta holds "/" in an overlong 2-byte form (c0 af).', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('meta'), bytes('81'), mp('p'), bytes('a2c0af')]));
mal('open-missing-kind', 'OPEN without the required key kind.', 'OPEN', 1, mp({ target: 'x' }));
mal('open-kind-not-string', 'OPEN whose kind is an integer.', 'OPEN', 1, mp({ kind: 5 }));
mal('open-kind-too-long', 'OPEN whose kind is 129 characters (limit 128).', 'OPEN', 1, mp({ kind: 'k'.repeat(129) }));
mal('open-urgency-8', 'OPEN with urgency 8 (0..7).', 'OPEN', 1, mp({ kind: 'echo', urgency: 8 }));
mal('open-urgency-negative', 'OPEN with urgency -1.', 'OPEN', 1, mp({ kind: 'echo', urgency: -1 }));
mal('open-urgency-float', 'OPEN with urgency 1.5.', 'OPEN', 1, mp({ kind: 'echo', urgency: 1.5 }));
// §5.3 uint (FW-CTRL-6): an integer format, never a float, even one holding an integer.
mal('open-urgency-float-integral', 'OPEN with urgency as the float64 2.0.', 'OPEN', 1, Buffer.concat([bytes('82'), mp('kind'), mp('echo'), mp('urgency'), bytes('cb4000000000000000')]));
mal('hello-setting-float-integral', 'HELLO with max_frame_payload as the float32 65536.0.', 'HELLO', 0, Buffer.concat([bytes('82'), mp('versions'), mp([1]), mp('settings'), bytes('81'), mp('max_frame_payload'), bytes('ca47800000')]));
mal('hello-version-float-integral', 'HELLO whose versions array holds the float64 1.0.', 'HELLO', 0, Buffer.concat([bytes('81'), mp('versions'), bytes('91cb3ff0000000000000')]));
mal('goaway-last-stream-float-integral', 'GOAWAY with last_stream as the float64 0.0.', 'GOAWAY', 0, Buffer.concat([bytes('82'), mp('last_stream'), bytes('cb0000000000000000'), mp('code'), mp(0)]));
mal('open-meta-not-map', 'OPEN whose meta is an array.', 'OPEN', 1, mp({ kind: 'echo', meta: [1] }));
mal('hello-missing-versions', 'HELLO without versions.', 'HELLO', 0, mp({ settings: {} }));
mal('hello-versions-empty', 'HELLO with an empty versions array.', 'HELLO', 0, mp({ versions: [] }));
mal('hello-too-many-versions', 'HELLO with 17 versions (at most 16).', 'HELLO', 0, mp({ versions: Array.from({ length: 17 }, (_, i) => i + 1) }));
mal('hello-version-0', 'HELLO offering version 0.', 'HELLO', 0, mp({ versions: [0] }));
mal('hello-version-string', 'HELLO whose versions contain a string.', 'HELLO', 0, mp({ versions: ['1'] }));
mal('hello-settings-not-map', 'HELLO whose settings is an integer.', 'HELLO', 0, mp({ versions: [1], settings: 5 }));
mal('hello-setting-below-min', 'HELLO with max_frame_payload 1023 (minimum 1024, FW-SET-2).', 'HELLO', 0, mp({ versions: [1], settings: { max_frame_payload: 1023 } }));
mal('hello-setting-above-max', 'HELLO with max_frame_payload 16 MiB + 1 (above the ceiling).', 'HELLO', 0, mp({ versions: [1], settings: { max_frame_payload: 16 * 1024 * 1024 + 1 } }));
mal('hello-setting-heartbeat-above-max', 'HELLO with heartbeat_interval_ms 3600001 (max one hour).', 'HELLO', 0, mp({ versions: [1], settings: { heartbeat_interval_ms: 3600001 } }));
mal('hello-setting-wrong-type', 'HELLO with idle_timeout_ms as a string.', 'HELLO', 0, mp({ versions: [1], settings: { idle_timeout_ms: '30s' } }));
mal('hello-agent-not-string', 'HELLO whose agent is binary.', 'HELLO', 0, mp({ versions: [1], agent: Buffer.from('a') }));
mal('error-missing-code', 'ERROR without the required code.', 'ERROR', 1, mp({ message: 'x' }));
mal('error-code-negative', 'ERROR with code -1.', 'ERROR', 1, mp({ code: -1, message: 'x' }));
mal('error-code-over-u32', 'ERROR with code 2^32.', 'ERROR', 1, mp({ code: 0x1_0000_0000, message: 'x' }));
mal('error-retryable-not-bool', 'ERROR with retryable = 1.', 'ERROR', 1, mp({ code: 1, message: 'x', retryable: 1 }));
mal('error-details-not-map', 'ERROR whose details is a string.', 'ERROR', 1, mp({ code: 1, message: 'x', details: 'no' }));
mal('cancel-reason-not-string', 'CANCEL whose reason is an integer.', 'CANCEL', 1, mp({ reason: 3 }));
mal('goaway-missing-last-stream', 'GOAWAY without last_stream.', 'GOAWAY', 0, mp({ code: 0 }));
mal('goaway-missing-code', 'GOAWAY without code.', 'GOAWAY', 0, mp({ last_stream: 3 }));

// Fixed-size payloads of the wrong size (FW-FRAME-8): FRAME_SIZE.
invalid('credit-7-bytes', 'CREDIT with a 7-byte payload (exactly 8).', frameBytes({ type: T.CREDIT, stream: 0, payload: Buffer.alloc(7) }), 'FRAME_SIZE');
invalid('credit-9-bytes', 'CREDIT with a 9-byte payload.', frameBytes({ type: T.CREDIT, stream: 1, payload: Buffer.alloc(9) }), 'FRAME_SIZE');
invalid('credit-empty', 'CREDIT with an empty payload.', frameBytes({ type: T.CREDIT, stream: 1 }), 'FRAME_SIZE');
invalid('ack-5-bytes', 'ACK with a 5-byte payload (exactly 4).', frameBytes({ type: T.ACK, stream: 1, payload: Buffer.alloc(5) }), 'FRAME_SIZE');
invalid('ack-3-bytes', 'ACK with a 3-byte payload.', frameBytes({ type: T.ACK, stream: 1, payload: Buffer.alloc(3) }), 'FRAME_SIZE');
invalid('ping-9-bytes', 'PING with a 9-byte payload (exactly 8).', frameBytes({ type: T.PING, stream: 0, payload: Buffer.alloc(9) }), 'FRAME_SIZE');
invalid('ping-empty', 'PING with an empty payload.', frameBytes({ type: T.PING, stream: 0 }), 'FRAME_SIZE');

// Credit beyond 2^53-1 (FW-FLOW-6): FLOW_CONTROL.
invalid('credit-2-53', 'CREDIT with offset 2^53, one past the largest exact JS integer.', frameBytes({ type: T.CREDIT, stream: 1, payload: u64(0x200000, 0) }), 'FLOW_CONTROL');
invalid('credit-u64-max', 'CREDIT with offset 2^64-1.', frameBytes({ type: T.CREDIT, stream: 0, payload: u64(0xffffffff, 0xffffffff) }), 'FLOW_CONTROL');

// ---------------------------------------------------------------------------------------------
// Ignored frames: unknown types, verified and skipped (FW-FRAME-7).

const ignoredVectors = [
  {
    name: 'unknown-type-0x7f',
    description: 'Type 0x7f on stream 0 with a 6-byte payload and a valid CRC.',
    hex: hex(frameBytes({ type: 0x7f, stream: 0, seq: 0, payload: Buffer.from('future') })),
    ignoredFrames: 1,
  },
  {
    name: 'unknown-type-0x0b-on-stream',
    description: 'Type 0x0b (the first unassigned code) on stream 3 with flags set: placement rules only apply to known types.',
    hex: hex(frameBytes({ type: 0x0b, flags: 0xff, stream: 3, seq: 9, payload: mp({ any: 'thing' }) })),
    ignoredFrames: 1,
  },
  {
    name: 'unknown-type-0x00-empty',
    description: 'Type 0x00 with an empty payload.',
    hex: hex(frameBytes({ type: 0x00, stream: 0 })),
    ignoredFrames: 1,
  },
  {
    name: 'unknown-types-twice',
    description: 'Two unknown frames (0xff, 0x80) back to back.',
    hex: hex(Buffer.concat([frameBytes({ type: 0xff, stream: 1, payload: Buffer.alloc(3) }), frameBytes({ type: 0x80, stream: 0 })])),
    ignoredFrames: 2,
  },
];

// ---------------------------------------------------------------------------------------------

for (const v of validVectors) {
  if (!typeNames.has(v.frame.type)) throw new Error(`unknown type in ${v.name}`);
}
const names = [...validVectors, ...streams, ...invalidVectors, ...ignoredVectors].map((v) => v.name);
if (new Set(names).size !== names.length) throw new Error('duplicate vector names');

const dir = new URL('./', import.meta.url);
const write = (file: string, value: unknown): void => {
  writeFileSync(new URL(file, dir), `${JSON.stringify(value, null, 2)}\n`);
};
write('valid.json', { version: 1, frames: validVectors, streams });
write('invalid.json', { version: 1, defaultMaxPayload: 16 * 1024 * 1024, vectors: invalidVectors });
write('ignored.json', { version: 1, vectors: ignoredVectors });
console.log(`valid: ${validVectors.length} frames + ${streams.length} streams, invalid: ${invalidVectors.length}, ignored: ${ignoredVectors.length}`);

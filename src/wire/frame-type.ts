/**
 * The frame-type registry of version 1 (spec/PROTOCOL.md §4) and where each type may appear.
 * Codes are declared once; everything else derives from this table.
 */

export const FrameType = {
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

/** The name of a frame type, e.g. `DATA`. */
export type FrameTypeName = keyof typeof FrameType;
/** The code of a frame type, e.g. 0x03. */
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

/** Where a frame type may be sent: only on stream 0, only on a stream, or on both. */
type Placement = 'connection' | 'stream' | 'both';

const placement: Readonly<Record<FrameTypeCode, Placement>> = {
  [FrameType.HELLO]: 'connection',
  [FrameType.OPEN]: 'stream',
  [FrameType.DATA]: 'stream',
  [FrameType.CREDIT]: 'both',
  [FrameType.ACK]: 'stream',
  [FrameType.DONE]: 'stream',
  [FrameType.ERROR]: 'both',
  [FrameType.CANCEL]: 'stream',
  [FrameType.PING]: 'connection',
  [FrameType.GOAWAY]: 'connection',
};

const names = new Map<number, FrameTypeName>(
  (Object.keys(FrameType) as FrameTypeName[]).map((name) => [FrameType[name], name]),
);

/** True for a frame type of protocol version 1. */
export function isKnownFrameType(code: number): code is FrameTypeCode {
  return names.has(code);
}

/** The name of a frame type, or `UNKNOWN(0x..)` for a code version 1 does not define. */
export function frameTypeName(code: number): string {
  return names.get(code) ?? `UNKNOWN(0x${code.toString(16).padStart(2, '0')})`;
}

/** True when a frame of this type may travel on this stream id (FW-FRAME-6). */
export function isAllowedOn(type: FrameTypeCode, stream: number): boolean {
  const where = placement[type];
  return where === 'both' || (where === 'connection') === (stream === 0);
}

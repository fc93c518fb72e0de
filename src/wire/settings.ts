/**
 * Connection settings carried in HELLO (spec/PROTOCOL.md §6): each side declares what it is
 * willing to receive. Keys, defaults and bounds are declared once here; a value outside its bounds
 * is MALFORMED_PAYLOAD (FW-SET-2), an unknown key is ignored (FW-SET-3).
 */

import { MAX_PAYLOAD_CEILING, MIN_MAX_PAYLOAD } from './limits.ts';

/** The settings a side declares in HELLO: what it is willing to receive. */
export interface Settings {
  /** Largest frame payload the sender of HELLO accepts. */
  readonly maxFramePayload: number;
  /** Credit the sender grants each new stream before any CREDIT frame (bytes of DATA payload). */
  readonly initialStreamCredit: number;
  /** Credit the sender grants the connection as a whole before any CREDIT frame. */
  readonly initialConnectionCredit: number;
  /** How many streams opened by the peer may be open at once. */
  readonly maxConcurrentStreams: number;
  /** Largest message (sum of a FOLLOWS chain) the sender accepts; 0 = no message view limit. */
  readonly maxMessageSize: number;
  /** How often the sender pings an idle connection, 0 = never. */
  readonly heartbeatIntervalMs: number;
  /** The sender declares the connection dead after this long without any frame. */
  readonly idleTimeoutMs: number;
  /** 1: the sender accepts DATA frames with the PACKED flag (spec §8.2.6); 0 (the protocol default): it does not. */
  readonly packedMessages: number;
}

interface Bound {
  readonly wire: string;
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export const settingBounds: Readonly<Record<keyof Settings, Bound>> = {
  maxFramePayload: { wire: 'max_frame_payload', min: MIN_MAX_PAYLOAD, max: MAX_PAYLOAD_CEILING, default: 64 * 1024 },
  initialStreamCredit: { wire: 'initial_stream_credit', min: 0, max: 0x7fff_ffff, default: 256 * 1024 },
  initialConnectionCredit: { wire: 'initial_connection_credit', min: 0, max: 0x7fff_ffff, default: 1024 * 1024 },
  maxConcurrentStreams: { wire: 'max_concurrent_streams', min: 0, max: 0x7fff_ffff, default: 100 },
  maxMessageSize: { wire: 'max_message_size', min: 0, max: 0x7fff_ffff, default: 16 * 1024 * 1024 },
  heartbeatIntervalMs: { wire: 'heartbeat_interval_ms', min: 0, max: 3_600_000, default: 10_000 },
  idleTimeoutMs: { wire: 'idle_timeout_ms', min: 0, max: 86_400_000, default: 30_000 },
  packedMessages: { wire: 'packed_messages', min: 0, max: 1, default: 0 },
};

export const settingKeys = Object.keys(settingBounds) as (keyof Settings)[];

/** The default of every setting. */
export const defaultSettings: Settings = Object.fromEntries(settingKeys.map((k) => [k, settingBounds[k].default])) as unknown as Settings;

/** The first setting that lies outside its bounds, or undefined when all are valid. */
export function invalidSetting(settings: Partial<Settings>): string | undefined {
  for (const key of settingKeys) {
    const v = settings[key];
    if (v === undefined) continue;
    const b = settingBounds[key];
    if (!Number.isInteger(v) || v < b.min || v > b.max) return `${b.wire} must be an integer in [${b.min}, ${b.max}], got ${v}`;
  }
  return undefined;
}

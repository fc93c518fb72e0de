/** HELLO (0x01), stream 0 only: the first frame each side sends (spec/PROTOCOL.md §7.1). */

import { decodeControl, encodeControl, malformed, read, type ControlMap } from '../msgpack.ts';
import { encodedAsFloat } from '../strict-msgpack.ts';
import { invalidSetting, settingBounds, settingKeys, type Settings } from '../settings.ts';

/** The payload of HELLO. */
export interface HelloPayload {
  /** Protocol versions the sender speaks; the highest one both list is used (FW-HS-2). */
  readonly versions: readonly number[];
  /** Settings the sender declares; absent keys take their defaults. */
  readonly settings: Partial<Settings>;
  /** Credentials for the server's authentication hook (client → server only), any MessagePack value. */
  readonly auth?: unknown;
  /** Free-form implementation name, for logs. */
  readonly agent?: string;
}

const F = 'HELLO';

export function encodeHelloPayload(p: HelloPayload): Uint8Array {
  const settings: Record<string, number> = {};
  for (const key of settingKeys) {
    const v = p.settings[key];
    if (v !== undefined) settings[settingBounds[key].wire] = v;
  }
  const map: Record<string, unknown> = { versions: [...p.versions], settings };
  if (p.auth !== undefined) map['auth'] = p.auth;
  if (p.agent !== undefined) map['agent'] = p.agent;
  return encodeControl(map);
}

export function decodeHelloPayload(payload: Uint8Array): HelloPayload {
  const map = decodeControl(F, payload);
  const versions = map['versions'];
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > 16) {
    throw malformed(F, '"versions" must be a non-empty array of at most 16 unsigned integers');
  }
  for (const [i, v] of versions.entries()) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffff || encodedAsFloat(versions, i)) {
      throw malformed(F, '"versions" entries must be integers in [1, 65535], encoded as integers');
    }
  }
  const rawSettings: ControlMap = read.map(F, map, 'settings') ?? {};
  const settings: Partial<Record<keyof Settings, number>> = {};
  for (const key of settingKeys) {
    const v = read.uint(F, rawSettings, settingBounds[key].wire);
    if (v !== undefined) settings[key] = v;
  }
  const bad = invalidSetting(settings);
  if (bad !== undefined) throw malformed(F, bad);
  const agent = read.str(F, map, 'agent', 256);
  const auth = map['auth'];
  return {
    versions: versions as number[],
    settings,
    ...(auth === undefined ? {} : { auth }),
    ...(agent === undefined ? {} : { agent }),
  };
}

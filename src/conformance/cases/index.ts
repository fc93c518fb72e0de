/**
 * The case registry, in report order. Each spec area has its own file; the profile cases
 * (spec/UPLOAD.md in upload/, spec/EVENTS.md in events/, spec/OBJECTS.md in objects.ts) are added
 * here like any other file.
 */

import { cases as connection } from './connection.ts';
import { cases as events } from './events/index.ts';
import { cases as flow } from './flow.ts';
import { cases as framing } from './framing.ts';
import { cases as handshake } from './handshake.ts';
import type { Case } from './helpers.ts';
import { cases as limits } from './limits.ts';
import { cases as objects } from './objects.ts';
import { cases as packing } from './packing.ts';
import { cases as quic } from './quic.ts';
import { cases as streams } from './streams.ts';
import { cases as upload } from './upload/index.ts';
import { cases as vectors } from './vectors.ts';

export type { Case } from './helpers.ts';

/** Every built-in case, in run order. */
export const allCases: readonly Case[] = [...handshake, ...framing, ...vectors, ...streams, ...packing, ...flow, ...connection, ...limits, ...quic, ...upload, ...objects, ...events];

const ids = new Set<string>();
for (const c of allCases) {
  if (ids.has(c.id)) throw new Error(`duplicate conformance case id ${c.id}`);
  ids.add(c.id);
}

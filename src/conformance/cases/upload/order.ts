/** §11.8.1 The order of the upload profile's checks (spec/UPLOAD.md, FW-UP-23): requests wrong in two ways at once. */

import { expectStreamError } from '../../expect.ts';
import { outcome } from '../../types.ts';
import type { Case } from '../helpers.ts';
import { chunkOf, commit, createUpload, sendChunk, sha256, status, storeChunk } from './support.ts';

const S_ORDER = '11.8.1 The order of checks';

export const cases: Case[] = [
  {
    id: 'FW-UP-23/check-order',
    requirements: ['FW-UP-23', 'FW-UP-21', 'FW-UP-24', 'FW-UP-14', 'FW-UP-16'],
    section: S_ORDER,
    level: 'MUST',
    title: 'an upload of 3 chunks with chunk 0 stored, taken over (token 2): commit with token 1 → LEASE_CONFLICT (not INCOMPLETE); chunk 9 with token 1 → LEASE_CONFLICT (not BAD_RANGE); chunk 0 at a wrong offset with another sha256 → BAD_RANGE (not CHUNK_CONFLICT); chunk 0 with token 1 and too many bytes → LEASE_CONFLICT before any DATA matters',
    quote: 'The server MUST check each operation in the order below and fail with the first check that fails, so that every implementation answers the same.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const u = await createUpload(conn, { size: 2500, chunkSize: 1024 });
      await storeChunk(conn, u, 0);
      const taken = await status(conn, u, true);
      const current = taken['token'];
      if (current !== 2) return outcome.fail('acquire did not grant token 2', 'token 2', String(current));
      const other = Buffer.alloc(1024, 7);
      const checks: [string, () => Promise<number> | number, 'LEASE_CONFLICT' | 'BAD_RANGE'][] = [
        ['commit with a stale token on an incomplete upload', () => commit(conn, u, { token: 1 }), 'LEASE_CONFLICT'],
        ['a chunk out of range with a stale token', () => sendChunk(conn, u, 9, { token: 1, offset: 9 * 1024, length: 1024, bytes: other }), 'LEASE_CONFLICT'],
        ['chunk 0 at a wrong offset, stored with another sha256', () => sendChunk(conn, u, 0, { token: 2, offset: 512, bytes: other, sha256: sha256(other) }), 'BAD_RANGE'],
        ['chunk 0 with a stale token and too many bytes', () => sendChunk(conn, u, 0, { token: 1, bytes: Buffer.concat([chunkOf(u, 0), Buffer.alloc(10)]), sha256: sha256(chunkOf(u, 0)) }), 'LEASE_CONFLICT'],
      ];
      const seen: string[] = [];
      for (const [what, send, code] of checks) {
        const o = await expectStreamError(conn, await send(), code);
        if (o.verdict !== 'pass') return { ...o, detail: `${what}: ${o.detail}` };
        seen.push(`${what} → ${code}`);
      }
      return outcome.pass(seen.join('; '));
    },
  },
];

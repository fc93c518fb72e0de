/** §11.4.6 `upload.list` and the well-known metadata keys (spec/UPLOAD.md FW-UP-60, FW-UP-61). */

import { ErrorCodes } from '../../../errors.ts';
import type { Conn } from '../../context.ts';
import { expectStreamError } from '../../expect.ts';
import { CaseAbort, outcome } from '../../types.ts';
import type { Case } from '../helpers.ts';
import { control, createUpload, isUint, KIND, leaveNothingBehind, S_CREATE, S_LIST, show, storeChunk, trailerOf, UPLOAD_ID, type Trailer } from './support.ts';

/** Every entry of the caller's listing, page by page (at most 64 pages). */
async function listAll(conn: Conn, limit?: number): Promise<{ entries: Trailer[]; pages: number }> {
  const entries: Trailer[] = [];
  let after: string | undefined;
  for (let pages = 1; pages <= 64; pages++) {
    const stream = control(conn, KIND.list, undefined, { ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) });
    const v = await conn.ended(stream);
    if (v.error === ErrorCodes.NOT_FOUND.code) throw new CaseAbort(outcome.unsupported('the target answers upload.list with NOT_FOUND: it predates FW-UP-60'));
    if (!v.done) throw new CaseAbort(outcome.fail('upload.list did not succeed', 'DONE with {uploads, more}', conn.describeStreamEnd(stream)));
    const t = v.trailer ?? {};
    const uploads = t['uploads'];
    const more = t['more'];
    if (!Array.isArray(uploads) || typeof more !== 'boolean') throw new CaseAbort(outcome.fail('the list trailer is malformed', '{uploads: array, more: bool}', show(t)));
    if (limit !== undefined && uploads.length > limit) throw new CaseAbort(outcome.fail(`a page has ${uploads.length} entries, more than limit ${limit}`, `<= ${limit}`, show(t)));
    entries.push(...(uploads as Trailer[]));
    const last = uploads.at(-1) as Trailer | undefined;
    if (!more || last === undefined) return { entries, pages };
    after = String(last['upload_id']);
  }
  throw new CaseAbort(outcome.fail('the listing did not end within 64 pages', 'more: false', 'more: true'));
}

export const cases: Case[] = [
  {
    id: 'FW-UP-60/list-unfinished',
    requirements: ['FW-UP-60', 'FW-UP-61'],
    section: S_LIST,
    level: 'MUST',
    title: 'two uploads (one with name and content_type, one chunk stored), one aborted: list with limit 1 pages through the live one, in id order, with progress and metadata, without tokens',
    quote: 'The server MUST answer with the trailer `{"uploads": [...], "more": bool}`: the unfinished uploads … of the connection\'s principal only, in ascending order of upload id … at most `limit` of them.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      const named = await trailerOf(conn, control(conn, KIND.create, undefined, { size: 2500, chunk_size: 1024, metadata: { name: 'report 2026.pdf', content_type: 'application/pdf' } }), 'upload.create with metadata');
      const id = named['upload_id'];
      if (typeof id !== 'string' || !UPLOAD_ID.test(id)) return outcome.fail('the create trailer has no upload id', 'upload_id', show(named));
      leaveNothingBehind(conn, id);
      const other = await createUpload(conn);
      await storeChunk(conn, other, 0);
      const gone = await createUpload(conn);
      await trailerOf(conn, control(conn, KIND.abort, gone.id), 'upload.abort');
      const { entries } = await listAll(conn, 1);
      const ids = entries.map((e) => e['upload_id']);
      const p: string[] = [];
      if ([...ids].sort().join() !== ids.join()) p.push(`not in id order: ${show(ids)}`);
      if (new Set(ids).size !== ids.length) p.push(`an id listed twice: ${show(ids)}`);
      if (ids.includes(gone.id)) p.push('the aborted upload is listed');
      const a = entries.find((e) => e['upload_id'] === id);
      const b = entries.find((e) => e['upload_id'] === other.id);
      if (a === undefined || b === undefined) p.push(`a live upload is missing from ${show(ids)}`);
      if (a !== undefined && (a['name'] !== 'report 2026.pdf' || a['content_type'] !== 'application/pdf' || a['stored_chunks'] !== 0 || a['size'] !== 2500)) p.push(`entry ${show(a)}`);
      if (b !== undefined && (b['stored_chunks'] !== 1 || b['stored_bytes'] !== 1024 || b['chunk_count'] !== 3 || b['state'] !== 'receiving' || !isUint(b['expires_at']) || !isUint(b['created_at']))) p.push(`entry ${show(b)}`);
      if (entries.some((e) => 'token' in e)) p.push('an entry carries a token');
      if (p.length > 0) return outcome.fail(p.join('; '), 'the live uploads, in id order, with progress and metadata, no token', show(entries));
      return outcome.pass(`${entries.length} entries, one a page, in id order; the aborted upload absent`);
    },
  },
  {
    id: 'FW-UP-60/bad-limit',
    requirements: ['FW-UP-60', 'FW-UP-4'],
    section: S_LIST,
    level: 'MUST',
    title: 'upload.list with limit 0, limit 65 and after "../x" → MALFORMED_PAYLOAD each',
    quote: 'A `limit` outside 1..64 or an `after` that is not an upload id is `MALFORMED_PAYLOAD`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      for (const meta of [{ limit: 0 }, { limit: 65 }, { after: '../x' }]) {
        const verdict = await expectStreamError(conn, control(conn, KIND.list, undefined, meta), 'MALFORMED_PAYLOAD');
        if (verdict.verdict !== 'pass') return verdict;
      }
      return outcome.pass('each refused with MALFORMED_PAYLOAD');
    },
  },
  {
    id: 'FW-UP-61/bad-metadata',
    requirements: ['FW-UP-61', 'FW-UP-4'],
    section: S_CREATE,
    level: 'MUST',
    title: 'upload.create with metadata name "a/b", name "..", a 256-byte name, content_type "pdf" → MALFORMED_PAYLOAD each; nothing created',
    quote: 'The server MUST fail a create whose `name` or `content_type` breaks these rules with `MALFORMED_PAYLOAD`.',
    needs: ['upload'],
    async run(ctx) {
      const conn = await ctx.handshake();
      for (const metadata of [{ name: 'a/b' }, { name: '..' }, { name: 'é'.repeat(128) }, { content_type: 'pdf' }]) {
        const verdict = await expectStreamError(conn, control(conn, KIND.create, undefined, { size: 10, chunk_size: 10, metadata }), 'MALFORMED_PAYLOAD');
        if (verdict.verdict !== 'pass') return verdict;
      }
      return outcome.pass('each refused with MALFORMED_PAYLOAD');
    },
  },
];

/**
 * §11.9 Several server nodes (spec/UPLOAD.md): an upload created on the target (node A) is written
 * and committed across it and the second node of the same cluster (node B, `--peer-target`): "a
 * client cut from one node resumes, writes and commits on any other", and "two nodes committing
 * one upload produce one object and the same answer (FW-UP-25)". Without a second node every case
 * here is not applicable.
 */

import { ErrorCodes } from '../../../errors.ts';
import type { CaseContext, Conn } from '../../context.ts';
import { CaseAbort, outcome } from '../../types.ts';
import type { Case } from '../helpers.ts';
import { commit, commitProblems, control, createUpload, KIND, same, show, storeAll, storeChunk, storedSet, type Trailer, type Upload } from './support.ts';

const S_NODES = '11.9 Several server nodes';
const SAME_CLUSTER = 'is it a node of the same cluster (one shared store)?';

const clusterCase = { section: S_NODES, level: 'MUST', needs: ['upload'], cluster: true } as const;

/** How an operation ended: its DONE trailer, or its error code. */
type End = { readonly trailer: Trailer } | { readonly error: number; readonly text: string };

async function endOf(conn: Conn, stream: number): Promise<End> {
  const v = await conn.ended(stream);
  if (v.done) return { trailer: v.trailer ?? {} };
  return { error: v.error ?? -1, text: conn.describeStreamEnd(stream) };
}

/** The peer's status of an upload the target created: it must know it, else the case fails. */
async function statusOnPeer(peer: Conn, u: Upload): Promise<Trailer> {
  const end = await endOf(peer, control(peer, KIND.status, u.id));
  if ('trailer' in end) return end.trailer;
  throw new CaseAbort(outcome.fail(`the peer does not know the upload the target created: ${SAME_CLUSTER}`, 'the status trailer', end.text));
}

/** An upload of `size` bytes in 1 KiB chunks created on the target, with a connection to each node; the peer knows it. */
async function createdOnTarget(ctx: CaseContext, size: number): Promise<{ conn: Conn; peer: Conn; u: Upload }> {
  const conn = await ctx.handshake();
  const u = await createUpload(conn, { size, chunkSize: 1024, sha256: true });
  const peer = await ctx.handshake({ node: 'peer' });
  await statusOnPeer(peer, u);
  return { conn, peer, u };
}

/** How each node answered an operation sent to it while the other one ran (both streams open before either is awaited). */
function raced(conn: Conn, onTarget: number, peer: Conn, onPeer: number): Promise<[End, End]> {
  return Promise.all([endOf(conn, onTarget), endOf(peer, onPeer)]);
}

export const cases: Case[] = [
  {
    ...clusterCase,
    id: 'FW-UP-25/commit-on-peer',
    requirements: ['FW-UP-25', 'FW-UP-24'],
    title: 'create a 5-chunk upload on the target, store chunks 0, 2, 4 there and 1, 3 on the peer; the peer\'s status shows all 5; commit on the peer → the object\'s sha256 and size; commit again on the target → the same trailer',
    quote: '`framewire serve --redis` … a client cut from one node resumes, writes and commits on any other. … a commit of an upload that is already committed MUST return the same trailer `{"object_id", "sha256", "size", "committed_at"}`, whatever token it carries.',
    async run(ctx) {
      const { conn, peer, u } = await createdOnTarget(ctx, 5 * 1024 - 100);
      for (const i of [0, 2, 4]) await storeChunk(conn, u, i);
      for (const i of [1, 3]) await storeChunk(peer, u, i);
      const seen = await statusOnPeer(peer, u);
      const stored = [...storedSet(seen)].sort((x, y) => x - y).join(',');
      if (stored !== '0,1,2,3,4') return outcome.fail('the peer does not see every chunk stored on either node', 'stored 0,1,2,3,4', `stored ${stored}`);
      const first = await endOf(peer, commit(peer, u));
      if (!('trailer' in first)) return outcome.fail('the commit on the peer failed', 'DONE {object_id, sha256, size, committed_at}', first.text);
      const p = commitProblems(first.trailer, u);
      if (p.length > 0) return outcome.fail(`the object committed on the peer is not the one written across both nodes: ${p.join('; ')}`, 'the commit trailer of the object', show(first.trailer));
      const again = await endOf(conn, commit(conn, u));
      if (!('trailer' in again) || !same(again.trailer, first.trailer)) {
        return outcome.fail('the target answers a commit of the upload committed on the peer differently', show(first.trailer), 'trailer' in again ? show(again.trailer) : again.text);
      }
      return outcome.pass(`chunks on both nodes, committed on the peer: sha256 ${show(first.trailer['sha256'])}; the target answers the same trailer`);
    },
  },
  {
    ...clusterCase,
    id: 'FW-UP-25/commit-race-across-nodes',
    requirements: ['FW-UP-25'],
    title: 'a complete upload; commit on the target and on the peer at the same time → both DONE with the same trailer, the object\'s sha256',
    quote: 'a commit … run under a lease in Redis …, so two nodes committing one upload produce one object and the same answer (FW-UP-25)',
    async run(ctx) {
      const { conn, peer, u } = await createdOnTarget(ctx, 3 * 1024);
      await storeAll(conn, u);
      const [a, b] = await raced(conn, commit(conn, u), peer, commit(peer, u));
      if (!('trailer' in a) || !('trailer' in b)) {
        return outcome.fail('one of two racing commits failed', 'DONE on both nodes', `target: ${'trailer' in a ? 'DONE' : a.text}; peer: ${'trailer' in b ? 'DONE' : b.text}`);
      }
      const p = commitProblems(a.trailer, u);
      if (p.length > 0) return outcome.fail(`the racing commits published another object: ${p.join('; ')}`, 'the commit trailer of the object', show(a.trailer));
      if (!same(a.trailer, b.trailer)) return outcome.fail('the two nodes answered the racing commits differently', show(a.trailer), show(b.trailer));
      return outcome.pass(`both nodes answered ${show(a.trailer['object_id'])}, sha256 ${show(a.trailer['sha256'])}`);
    },
  },
  {
    ...clusterCase,
    id: 'FW-UP-28/abort-commit-race-across-nodes',
    requirements: ['FW-UP-28', 'FW-UP-25'],
    title: 'a complete upload; commit on the target and abort on the peer at the same time → either committed (the commit\'s trailer, abort ALREADY_COMMITTED) or aborted (abort DONE {state: "aborted"}, commit ABORTED), never both',
    quote: 'when commits and aborts race, either the upload ends committed, every commit answers the same object and every abort `ALREADY_COMMITTED`; or it ends aborted, every abort answers `{"state": "aborted"}` and every commit `ABORTED`',
    async run(ctx) {
      const { conn, peer, u } = await createdOnTarget(ctx, 3 * 1024);
      await storeAll(conn, u);
      const [c, a] = await raced(conn, commit(conn, u), peer, control(peer, KIND.abort, u.id));
      const got = `commit on the target: ${'trailer' in c ? `DONE ${show(c.trailer)}` : c.text}; abort on the peer: ${'trailer' in a ? `DONE ${show(a.trailer)}` : a.text}`;
      if ('trailer' in c && 'error' in a && a.error === ErrorCodes.ALREADY_COMMITTED.code) {
        const p = commitProblems(c.trailer, u);
        return p.length > 0 ? outcome.fail(`committed another object: ${p.join('; ')}`, 'the commit trailer of the object', show(c.trailer)) : outcome.pass(`committed: ${got}`);
      }
      if ('trailer' in a && a.trailer['state'] === 'aborted' && 'error' in c && c.error === ErrorCodes.ABORTED.code) return outcome.pass(`aborted: ${got}`);
      return outcome.fail('the racing commit and abort did not end one way', 'committed (abort ALREADY_COMMITTED) or aborted (commit ABORTED)', got);
    },
  },
];

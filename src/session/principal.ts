/**
 * Principals: who is on the other end of a connection, as the server's authentication hook said
 * (spec/PROTOCOL.md §8.1 FW-HS-6), mapped to a stable string id. Everything a peer can make the
 * server keep — uploads, objects, event-stream instances — belongs to such an id, and every
 * per-principal budget counts by it (spec/UPLOAD.md §11.9, spec/EVENTS.md §12.2).
 */

/** The id of every client when the server has no authentication hook (or the hook returned `true`). */
export const ANONYMOUS = 'anonymous';

/** Maps what the authentication hook returned to a principal id; undefined refuses the operation (FORBIDDEN). */
export type PrincipalId = (principal: unknown) => string | undefined;

/**
 * The default mapping: no hook (or `true`) → "anonymous"; a string or number → itself (prefixed, so
 * that the string "anonymous" is not the anonymous principal); an object with a string or number
 * `id` → that id; anything else → undefined.
 */
export function defaultPrincipalId(principal: unknown): string | undefined {
  if (principal === undefined || principal === true) return ANONYMOUS;
  if (typeof principal === 'string') return `s:${principal}`;
  if (typeof principal === 'number' || typeof principal === 'bigint') return `n:${principal}`;
  if (typeof principal === 'object' && principal !== null) {
    const id = (principal as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return `id:${id}`;
  }
  return undefined;
}

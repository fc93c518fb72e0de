/**
 * A stream service: the unit a server is assembled from. Each service claims OPEN kinds (by exact
 * name or by prefix, e.g. "upload."), and the router hands it the streams of those kinds.
 * Uploads and event streams are services; applications can add their own.
 */

import type { Session } from './session.ts';
import type { Stream } from './stream.ts';

/**
 * A stream service: claims OPEN kinds and handles the streams of those kinds. `UploadService` and
 * `EventService` are services; applications can write their own.
 */
export interface StreamService {
  /** Exact kinds, or prefixes ending in "." that claim every kind below them. */
  readonly kinds: readonly string[];
  /** Handles one stream of a claimed kind; a rejection fails the stream with the error's code. */
  handle(stream: Stream, session: Session): void | Promise<void>;
  /** Called when the server closes: stop timers and sweepers. */
  close?(): void | Promise<void>;
}

/** Finds the service for a kind: exact match first, then the longest matching prefix. */
export function routeKind(services: readonly StreamService[], kind: string): StreamService | undefined {
  let best: { service: StreamService; length: number } | undefined;
  for (const service of services) {
    for (const claim of service.kinds) {
      if (claim === kind) return service;
      if (claim.endsWith('.') && kind.startsWith(claim) && (best === undefined || claim.length > best.length)) {
        best = { service, length: claim.length };
      }
    }
  }
  return best?.service;
}

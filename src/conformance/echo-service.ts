/**
 * The conformance target's services (spec/PROTOCOL.md §13.2): the stream kinds a server offers so
 * the black-box runner can exercise streams, flow control, cancellation and GOAWAY through the wire
 * alone.
 *
 * - `conformance.echo`: sends every message back unchanged (boundaries kept); when the client's
 *   direction ends with DONE it ends its own with DONE and the trailer
 *   `{messages, bytes[, client_trailer]}`, after `meta.done_delay_ms` (0..10000) if given, so a
 *   case can act while the stream is half-closed (remote).
 * - `conformance.sink`: accepts the stream and reads nothing, so no credit is ever returned; the
 *   stream ends only by CANCEL, ERROR or the end of the connection. Flow-control cases overrun it.
 * - `conformance.goaway`: the server sends GOAWAY on this connection as it accepts the stream
 *   (last_stream = this stream, deadline `meta.deadline_ms`), then echoes on it like
 *   `conformance.echo`: the only way a client can make a server send GOAWAY (FW-GOAWAY-2, -4, -6).
 *   It affects the asking connection only.
 *
 * This file runs on the target's side. It imports the session's types and the wire codec, never
 * the runner: the runner itself never uses it.
 */

import { isFramewireError } from '../errors.ts';
import type { Session, StreamService } from '../session/index.ts';
import { ControlLimits, encodeDonePayload, type ControlMap } from '../wire/index.ts';

type ServiceStream = Parameters<StreamService['handle']>[0];

/** The stream kind of the conformance echo service. */
export const ECHO_KIND = 'conformance.echo';
/** The stream kind of the conformance sink service. */
export const SINK_KIND = 'conformance.sink';
export const GOAWAY_KIND = 'conformance.goaway';
/** Upper bound of `done_delay_ms` and of `deadline_ms`, so that a client cannot park a timer for long. */
export const MAX_DONE_DELAY_MS = 10_000;
export const MAX_GOAWAY_DEADLINE_MS = 10_000;

function metaMs(stream: ServiceStream, key: string, max: number): number | undefined {
  const v = stream.meta?.[key];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : undefined;
}

/** Levels of containers in a decoded value: a map or array is 1 more than its deepest member. */
function depth(value: unknown): number {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return 0;
  let deepest = 0;
  for (const member of Array.isArray(value) ? value : Object.values(value)) deepest = Math.max(deepest, depth(member));
  return deepest + 1;
}

/**
 * The echo's trailer: the client's trailer goes back inside it only when the DONE is still a valid
 * control payload for the client, within its max_frame_payload and the nesting limit (a peer's
 * value is never sent on without a bound, §5.2); otherwise `client_trailer_omitted: true` says why
 * it is missing.
 */
function echoTrailer(messages: number, bytes: number, clientTrailer: ControlMap | undefined, session: Session): ControlMap {
  const base = { messages, bytes };
  if (clientTrailer === undefined) return base;
  const full = { ...base, client_trailer: clientTrailer };
  const limit = session.peerSettings?.maxFramePayload ?? 0;
  const fits = depth(full) <= ControlLimits.maxDepth && encodeDonePayload({ trailer: full }).length <= limit;
  return fits ? full : { ...base, client_trailer_omitted: true };
}

async function echo(stream: ServiceStream, session: Session): Promise<void> {
  let messages = 0;
  let bytes = 0;
  try {
    for await (const message of stream) {
      messages++;
      bytes += message.length;
      await stream.write(message);
    }
  } catch {
    // Cancelled or failed: the session already ended the stream; the producer stops here (FW-STREAM-5).
    return;
  }
  const delay = metaMs(stream, 'done_delay_ms', MAX_DONE_DELAY_MS);
  if (delay !== undefined && delay > 0) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (stream.signal.aborted) return;
  }
  try {
    await stream.end(echoTrailer(messages, bytes, stream.trailer, session));
  } catch (error) {
    // The stream ended meanwhile (cancelled while the DONE was delayed): nothing more to send. Or
    // end() refused the trailer at the call site (it should not: echoTrailer bounds it): say so.
    if (!stream.ended && isFramewireError(error)) stream.fail(error.code, error.message);
  }
}

/** The conformance kinds as one service; add it to `createServer({ services })`. */
export function conformanceService(): StreamService {
  return {
    kinds: [ECHO_KIND, SINK_KIND, GOAWAY_KIND],
    handle(stream, session) {
      if (stream.kind === SINK_KIND) return undefined;
      if (stream.kind === GOAWAY_KIND) {
        const deadlineMs = metaMs(stream, 'deadline_ms', MAX_GOAWAY_DEADLINE_MS) ?? MAX_GOAWAY_DEADLINE_MS;
        // Synchronously, so that an OPEN read right after this one is already refused (FW-GOAWAY-2).
        void session.goaway({ deadlineMs, message: `${GOAWAY_KIND} on stream ${stream.id}` });
      }
      return echo(stream, session);
    },
  };
}

/**
 * The conformance target's services (spec/CONFORMANCE.md, "What a target provides"): the stream
 * kinds a server offers so the black-box runner can exercise streams, flow control and
 * cancellation through the wire alone.
 *
 * - `conformance.echo`: sends every message back unchanged (boundaries kept); when the client's
 *   direction ends with DONE it ends its own with DONE and the trailer
 *   `{messages, bytes[, client_trailer]}`, after `meta.done_delay_ms` (0..10000) if given, so a
 *   case can act while the stream is half-closed (remote).
 * - `conformance.sink`: accepts the stream and reads nothing, so no credit is ever returned; the
 *   stream ends only by CANCEL, ERROR or the end of the connection. Flow-control cases overrun it.
 *
 * This file runs on the target's side. It imports only the service type (`src/service.ts`), not
 * the session: the runner itself never uses it.
 */

// Type-only: the runner never uses the session; this service is what a target offers.
import type { StreamService } from '../session/index.ts';

type ServiceStream = Parameters<StreamService['handle']>[0];

export const ECHO_KIND = 'conformance.echo';
export const SINK_KIND = 'conformance.sink';
/** Upper bound of `done_delay_ms`, so that a client cannot park a timer for long. */
export const MAX_DONE_DELAY_MS = 10_000;

async function echo(stream: ServiceStream): Promise<void> {
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
  const delay = stream.meta?.['done_delay_ms'];
  if (typeof delay === 'number' && Number.isInteger(delay) && delay > 0) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, MAX_DONE_DELAY_MS)));
    if (stream.signal.aborted) return;
  }
  const clientTrailer = stream.trailer;
  try {
    await stream.end({ messages, bytes, ...(clientTrailer === undefined ? {} : { client_trailer: clientTrailer }) });
  } catch {
    // The stream ended meanwhile (cancelled while the DONE was delayed): nothing more to send.
  }
}

/** Both conformance kinds as one service; add it to `createServer({ services })`. */
export function conformanceService(): StreamService {
  return {
    kinds: [ECHO_KIND, SINK_KIND],
    handle(stream) {
      if (stream.kind === SINK_KIND) return undefined;
      return echo(stream);
    },
  };
}

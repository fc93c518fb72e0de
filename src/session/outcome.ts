/** How a stream ended: exactly one of these, never "the socket closed" (spec §8.2, FW-STREAM-6). */

import type { FramewireError } from '../errors.ts';
import type { ControlMap } from '../wire/index.ts';

/** How a stream ended: completed (with the peer's DONE trailer), failed or cancelled (with the error). */
export type StreamOutcome =
  | { readonly status: 'completed'; readonly trailer: ControlMap | undefined }
  | { readonly status: 'failed'; readonly error: FramewireError }
  | { readonly status: 'cancelled'; readonly error: FramewireError };

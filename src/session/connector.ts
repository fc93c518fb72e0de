/**
 * The seam between a client that resumes by itself (L3: the uploader, the event subscriber) and
 * whatever makes its connections (L5 wires it to `connect()`; tests to an in-memory transport).
 * The L3 clients know no sockets: they ask the connector for a connection when they need one.
 */

import type { FramewireError } from '../errors.ts';
import type { OpenOptions } from './session.ts';
import type { Stream } from './stream.ts';

/** What a resuming client needs from a connection. `Connection` and `Session` implement it. */
export interface ClientConnection {
  /** Opens a stream on the connection. */
  open(options: OpenOptions): Stream;
  /**
   * False once the connection failed, closed, or is going away (GOAWAY): a failure on it is then
   * the connection's, not the operation's (FW-ERR-4).
   */
  readonly isOpen: boolean;
  /** The client is done with it; with an error, the peer is told why (a stall, FW-UP-38). */
  close(error?: FramewireError): void;
}

/**
 * Makes a connection, handshake done. Aborting `signal` abandons the attempt (the promise rejects);
 * a connector may also close the connection when `signal` fires later (connect() does).
 */
export type Connector = (signal: AbortSignal) => Promise<ClientConnection>;

/**
 * `framewire/protocol`: the layer below the convenience API, for conformance work, other
 * transports and tests. The upload profile's operations one request at a time (what
 * `uploadWith()` composes: create, status, chunk, commit, abort, each on its own stream), the
 * event profile's stream kind and messages, and the I/O-less {@link Session} with the pieces it
 * is assembled from (a frame transport, a clock, an in-memory socket pair).
 *
 * @packageDocumentation
 */
export {
  UploadKind,
  abortUpload,
  chunkCountOf,
  chunkLengthOf,
  commitUpload,
  createUpload,
  getUploadStatus,
  putChunk,
  listUploads,
  type ListRequest,
  type AbortAck,
  type ChunkAck,
  type ChunkHeader,
  type CommitRequest,
  type CommittedObject,
  type CreateRequest,
  type UploadKindName,
  type UploadState,
  type UploadStatus,
} from '../upload/index.ts';
export { SUBSCRIBE_KIND, decodeServerMessage, encodeAck, type ClientMessage, type EventMessage, type ServerMessage, type StartMessage } from '../events/protocol.ts';
export { ManualClock, Session, systemClock, type Clock, type DeferPhase, type FrameTransport, type Role, type TimerHandle } from '../session/index.ts';
export { createMemoryPair, type MemoryPairOptions, type SocketTransportOptions } from '../transport/index.ts';
export type { AttachableTransport } from '../connection.ts';

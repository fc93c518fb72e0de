/**
 * framewire: multiplexed streams with credit flow control and explicit ends over TCP (TLS
 * optional). This entry point holds what every user needs: connect, serve, streams and errors.
 * Resumable uploads live in `framewire/upload`, getting committed objects back (list, stat,
 * verified resumable downloads) in `framewire/objects`, resumable event streams in `framewire/events`,
 * the raw protocol operations in `framewire/protocol`, the frame codec in `framewire/wire` and
 * the conformance runner in `framewire/conformance`.
 *
 * @packageDocumentation
 */
export { connect, type ConnectOptions } from './client.ts';
export { createServer, FramewireServer, type ServerEvents, type ServerOptions } from './server.ts';
export { Connection, type ConnectionEvents } from './connection.ts';
export { defaultServerLimits, type AdmissionStats, type ServerLimits } from './admission.ts';
export {
  Stream,
  defaultLimits,
  toDuplex,
  toReadableStream,
  toWritableStream,
  ANONYMOUS,
  defaultPrincipalId,
  type Authenticate,
  type ClientConnection,
  type Connector,
  type OpenOptions,
  type PrincipalId,
  type RetryPolicy,
  type SchedulingPolicy,
  type Session,
  type SessionEnd,
  type SessionLimits,
  type SessionOptions,
  type SessionStats,
  type StreamHandler,
  type StreamOutcome,
  type StreamService,
  type StreamFlowState,
  type WriteOptions,
} from './session/index.ts';
export { internalErrorCount, onInternalError, type InternalErrorObserver, type InternalErrorReport } from './session/index.ts';
export { AbortError, ErrorCodes, FramewireError, errorCodeName, isFramewireError, type ErrorCodeName, type FramewireErrorOptions } from './errors.ts';
export { defaultSettings, type ControlMap, type Settings } from './wire/index.ts';
export {
  generateQuicIdentity,
  quicAvailable,
  quicIdentityFromBytes,
  type QuicEndpointOptions,
  type QuicIdentity,
  type QuicListenOptions,
  type QuicTransportOptions,
  type QuicTransportTuning,
  CaptureSink,
  CaptureEnd,
  captureDefaults,
  type CaptureOptions,
  type ConnectionTap,
} from './transport/index.ts';

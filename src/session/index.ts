/** L2 session: the connection state machine. Frames in, frames out, injected clock; no sockets. */
export { Session, type FrameTransport, type OpenOptions, type SessionEnd, type StreamHandler } from './session.ts';
export { Stream, type WriteOptions } from './stream.ts';
export { StreamReader } from './stream-reader.ts';
export type { StreamFlowState } from '../flow/index.ts';
export type { StreamOutcome } from './outcome.ts';
export { SessionStats } from './stats.ts';
export { defaultLimits, type Authenticate, type Role, type SchedulingPolicy, type SessionLimits, type SessionOptions } from './options.ts';
export { keepAliveClock, ManualClock, systemClock, type Clock, type DeferPhase, type TimerHandle } from './clock.ts';
export { toDuplex, toReadableStream, toWritableStream } from './adapters.ts';
export { routeKind, type StreamService } from './service.ts';
export { ANONYMOUS, defaultPrincipalId, type PrincipalId } from './principal.ts';
export { classifyFailure, type FailureClass } from './failure.ts';
export { Retrier, resolveRetryPolicy, wait, type RetryDecision, type RetryPolicy } from './retry.ts';
export type { ClientConnection, Connector } from './connector.ts';
export { Guard, internalErrorCount, onInternalError, reportInternalError, type InternalErrorObserver, type InternalErrorReport } from './guard.ts';

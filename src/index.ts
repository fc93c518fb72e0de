/** framewire's public API. */
export { connect, type ConnectOptions } from './client.ts';
export { createServer, FramewireServer, type ServerOptions } from './server.ts';
export { Connection } from './connection.ts';
export { routeKind, type StreamService } from './session/index.ts';
export type { ClientConnection, Connector, RetryPolicy } from './session/index.ts';
export { internalErrorCount, onInternalError, type InternalErrorObserver, type InternalErrorReport } from './session/index.ts';
export { ErrorCodes, FramewireError, isFramewireError, errorCodeName, type ErrorCodeName } from './errors.ts';
export { toDuplex, toReadableStream, toWritableStream } from './session/index.ts';
export { Session, Stream, defaultLimits, type OpenOptions, type SessionEnd, type SessionLimits, type SessionOptions, type StreamHandler, type StreamOutcome } from './session/index.ts';
export { defaultSettings, type Settings } from './wire/index.ts';
export { upload, type UploadClientOptions } from './upload-client.ts';
export {
  FsUploadStore,
  MemoryUploadStore,
  UploadService,
  UploadKind,
  UploadQuota,
  defaultUploadQuota,
  defaultRetryPolicy,
  uploadWith,
  abortUpload,
  commitUpload,
  createUpload,
  getUploadStatus,
  putChunk,
  type FsUploadStoreOptions,
  type UploadInfo,
  type UploadLimits,
  type UploadOptions,
  type UploadProgress,
  type UploadQuotaLimits,
  type UploadResult,
  type UploadServiceOptions,
  type UploadSource,
  type UploadStatus,
  type UploadStore,
  type UploadStoreOptions,
} from './upload/index.ts';
export { subscribe, type EventSubscribeOptions } from './events-client.ts';
export {
  EventService,
  MemoryReplayLog,
  ReplayBudget,
  defaultEventLimits,
  EVENT_OVERHEAD_BYTES,
  Subscription,
  defaultReplayLimits,
  eventDefaults,
  memoryReplayStore,
  defaultReconnectPolicy,
  subscribeWith,
  type CoalesceOptions,
  type DeliveredEvent,
  type EventCounters,
  type EventLimits,
  type EventOutcome,
  type EventServiceOptions,
  type EventSummary,
  type HandleOptions,
  type LoggedEvent,
  type ProducedEvent,
  type Producer,
  type ProducerContext,
  type ReplayLimits,
  type ReplayLog,
  type ReplayStore,
  type SubscribeOptions,
  type SubscriberStats,
} from './events/index.ts';

/** framewire's public API. */
export { connect, type ConnectOptions } from './client.ts';
export { createServer, FramewireServer, type ServerOptions } from './server.ts';
export { Connection } from './connection.ts';
export { routeKind, type StreamService } from './session/index.ts';
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
  uploadWith,
  abortUpload,
  commitUpload,
  createUpload,
  getUploadStatus,
  putChunk,
  type FsUploadStoreOptions,
  type UploadConnection,
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
export { subscribe, subscriberConnection, type EventSubscribeOptions } from './events-client.ts';
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
  subscribeWith,
  type CoalesceOptions,
  type ConnectFn,
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
  type ReconnectOptions,
  type ReplayLimits,
  type ReplayLog,
  type ReplayStore,
  type SubscribeOptions,
  type SubscriberConnection,
  type SubscriberStats,
} from './events/index.ts';

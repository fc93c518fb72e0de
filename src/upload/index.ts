/** L3 upload profile (spec/UPLOAD.md): protocol, stores, the server-side service and the resuming client. */
export * from './protocol.ts';
export {
  defaultStoreOptions,
  KeyedMutex,
  receiveChunk,
  resolveStoreOptions,
  type ChunkWriteResult,
  type ResolvedStoreOptions,
  type UploadInfo,
  type UploadStore,
  type UploadStoreOptions,
} from './store.ts';
export { MemoryUploadStore } from './memory-store.ts';
export { defaultUploadQuota, UploadQuota, type FreeBytes, type UploadQuotaLimits } from './quota.ts';
export { FsUploadStore, fsStoreSteps, type FsStoreStep, type FsUploadStoreOptions } from './fs-store.ts';
export { UploadSweeper } from './sweeper.ts';
export { defaultPrincipalId } from '../session/index.ts';
export { defaultUploadLimits, UploadService, type AuthorizeContext, type UploadLimits, type UploadOperation, type UploadServiceOptions } from './service.ts';
export { abortUpload, commitUpload, createUpload, getUploadStatus, putChunk } from './ops.ts';
export { openSource, type ChunkSource, type UploadSource } from './source.ts';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_INFLIGHT,
  defaultRetryPolicy,
  uploadWith,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
  type UploadStats,
} from './uploader.ts';

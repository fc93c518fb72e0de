/** L3 upload profile (spec/UPLOAD.md): protocol, stores, the server-side service and the resuming client. */
export * from './protocol.ts';
export {
  defaultStoreOptions,
  resolveStoreOptions,
  type ChunkWriteResult,
  type CommittedObjectStore,
  type ResolvedStoreOptions,
  type UploadInfo,
  type UploadSummary,
  type UploadStore,
  type UploadStoreOptions,
} from './store.ts';
export { UploadStateMachine, type UploadBackends } from './state-machine.ts';
export type { AddChunkResult, CommitLock, ObjectPage, ObjectReader, ObjectRecord, StagedChunk, StoredUpload, UploadBlobStore, UploadChunkView, UploadGeometry, UploadMetaStore, UploadRecord, VersionedUpload } from './backends.ts';
export { MemoryUploadStore } from './memory-store.ts';
export { MemoryMetaStore } from './memory-meta.ts';
export { MemoryBlobStore } from './memory-blobs.ts';
export { defaultUploadQuota, UploadQuota, type FreeBytes, type UploadQuotaLimits } from './quota.ts';
export { FsUploadStore, type FsUploadStoreOptions } from './fs-store.ts';
export { fsStoreSteps, type FsStoreStep } from './fs-steps.ts';
export { FsMetaStore } from './fs-meta.ts';
export { FsBlobStore } from './fs-blobs.ts';
export { UploadSweeper } from './sweeper.ts';
export { defaultPrincipalId } from '../session/index.ts';
export { defaultUploadLimits, UploadService, type AuthorizeContext, type UploadLimits, type UploadOperation, type UploadServiceOptions } from './service.ts';
export { abortUpload, commitUpload, createUpload, getUploadStatus, listUploads, putChunk } from './ops.ts';
export { MAX_LIST_LIMIT, encodeListMeta, encodeListTrailer, parseListMeta, parseListTrailer, type ListRequest, type UploadListEntry, type UploadListPage } from './listing.ts';
export { MAX_CONTENT_TYPE, MAX_METADATA_NAME_BYTES, MetadataKey, invalidContentType, invalidName } from './metadata.ts';
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
// The Redis store's parts (redis-meta.ts, redis-lock.ts) stay internal: their declarations name
// ioredis types, which do not type-check in a consumer without skipLibCheck (redis-errors has none).
export { RedisUploadStore, type RedisUploadStoreOptions } from './redis-store.ts';
export { SharedDirBlobStore, type SharedDirBlobStoreOptions, type StoredChunks } from './shared-blobs.ts';
export { FileResumeStore, FINGERPRINT_PREFIX_BYTES, MAX_RESUME_ENTRIES, defaultResumeFile, fingerprintOf, type ResumeEntry, type ResumeStore } from './resume-record.ts';
export { claimDataDir, DataDirError, LOCK_FILE, type DataDirClaim } from './fs-data-dir.ts';

/**
 * `framewire/upload`: resumable uploads (spec/UPLOAD.md). The client side is {@link upload}
 * (or {@link uploadWith} over connections you make yourself); the server side is an
 * {@link UploadService} over a store ({@link FsUploadStore}, {@link MemoryUploadStore}, or
 * {@link RedisUploadStore} for several server nodes sharing Redis and a directory). A store of
 * your own is an {@link UploadStateMachine} over an {@link UploadMetaStore} and an
 * {@link UploadBlobStore}: the profile's rules stay in the state machine, the backends only keep data.
 *
 * @packageDocumentation
 */
export { abortRemoteUpload, listUnfinishedUploads, upload, type UploadClientOptions } from '../upload-client.ts';
export { FileResumeStore, FINGERPRINT_PREFIX_BYTES, MAX_RESUME_ENTRIES, defaultResumeFile, fingerprintOf, type ResumeEntry, type ResumeStore } from '../upload/resume-record.ts';
export { MAX_LIST_LIMIT, type UploadListEntry, type UploadListPage } from '../upload/listing.ts';
export { MAX_CONTENT_TYPE, MAX_METADATA_NAME_BYTES, MetadataKey } from '../upload/metadata.ts';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_INFLIGHT,
  FsUploadStore,
  MemoryUploadStore,
  RedisUploadStore,
  UploadQuota,
  UploadService,
  UploadStateMachine,
  defaultRetryPolicy,
  defaultUploadLimits,
  defaultUploadQuota,
  uploadWith,
  type AddChunkResult,
  type AuthorizeContext,
  type ChunkWriteResult,
  type CommitLock,
  type StagedChunk,
  type StoredUpload,
  type CommittedObject,
  type FreeBytes,
  type FsUploadStoreOptions,
  type RedisUploadStoreOptions,
  type UploadBackends,
  type UploadBlobStore,
  type UploadChunkView,
  type UploadGeometry,
  type UploadInfo,
  type UploadLimits,
  type UploadMetaStore,
  type UploadOperation,
  type UploadOptions,
  type ResolvedStoreOptions,
  type UploadProgress,
  type UploadQuotaLimits,
  type UploadRecord,
  type UploadResult,
  type UploadServiceOptions,
  type UploadSource,
  type UploadState,
  type UploadStats,
  type UploadStatus,
  type UploadStore,
  type UploadStoreOptions,
  type UploadSummary,
  type VersionedUpload,
} from '../upload/index.ts';

/**
 * `framewire/upload`: resumable uploads (spec/UPLOAD.md). The client side is {@link upload}
 * (or {@link uploadWith} over connections you make yourself); the server side is an
 * {@link UploadService} over a store ({@link FsUploadStore}, {@link MemoryUploadStore}).
 *
 * @packageDocumentation
 */
export { upload, type UploadClientOptions } from '../upload-client.ts';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_INFLIGHT,
  FsUploadStore,
  MemoryUploadStore,
  UploadQuota,
  UploadService,
  defaultRetryPolicy,
  defaultUploadLimits,
  defaultUploadQuota,
  uploadWith,
  type AuthorizeContext,
  type ChunkWriteResult,
  type CommittedObject,
  type FreeBytes,
  type FsUploadStoreOptions,
  type UploadInfo,
  type UploadLimits,
  type UploadOperation,
  type UploadOptions,
  type ResolvedStoreOptions,
  type UploadProgress,
  type UploadQuotaLimits,
  type UploadResult,
  type UploadServiceOptions,
  type UploadSource,
  type UploadState,
  type UploadStats,
  type UploadStatus,
  type UploadStore,
  type UploadStoreOptions,
} from '../upload/index.ts';

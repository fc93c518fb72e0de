/**
 * `framewire/objects`: getting committed objects back (spec/OBJECTS.md). The client side is
 * {@link download} (or {@link downloadWith} over connections you make yourself): a verified,
 * resumable download into a file; {@link listObjects}, {@link statObject} and {@link deleteObject}
 * are the other operations, one stream each. The server side is an {@link ObjectService} over the
 * committed objects of an upload store (`store.objects` of an `FsUploadStore` or
 * `MemoryUploadStore` from `framewire/upload`).
 *
 * @packageDocumentation
 */
export { download, type DownloadClientOptions } from '../download-client.ts';
export {
  DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS,
  ObjectKind,
  ObjectService,
  POSITION_BYTES,
  defaultDownloadRetryPolicy,
  defaultObjectLimits,
  deleteObject,
  describeObject,
  downloadWith,
  listObjects,
  openRead,
  parseReadTrailer,
  positionOf,
  statObject,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  type DownloadStats,
  type ListPage,
  type ListRequest,
  type ObjectDescription,
  type ObjectLimits,
  type ObjectServiceOptions,
  type ObjectSummary,
  type ReadRequest,
  type ReadTrailer,
} from '../objects/index.ts';
export type { CommittedObjectStore, ObjectPage, ObjectReader, ObjectRecord } from '../upload/index.ts';

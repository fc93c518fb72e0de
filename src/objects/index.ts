/** L3 object read profile (spec/OBJECTS.md): protocol, the server-side service, the client operations and the resuming downloader. */
export * from './protocol.ts';
export { defaultObjectLimits, ObjectService, type ObjectLimits, type ObjectServiceOptions } from './service.ts';
export { CONTROL_URGENCY as OBJECT_CONTROL_URGENCY, deleteObject, describeObject, listObjects, openRead, READ_URGENCY, statObject } from './ops.ts';
export {
  DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS,
  defaultDownloadRetryPolicy,
  downloadWith,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  type DownloadStats,
} from './downloader.ts';

/**
 * The named steps of the file-system store after which a crash leaves a different state on disk,
 * in the order create → chunk → commit → delete takes them. FsUploadStoreOptions.onStep is called at each,
 * for the crash tests only (test/upload/fixtures/crash-store.ts kills its own process there).
 */

export const fsStoreSteps = [
  'create.staged',
  'create.manifest-temp',
  'create.manifest-written',
  'create.published',
  'create.key-temp',
  // The chunk's bytes are in the part file, fsynced, not yet recorded: not stored.
  'chunk.written',
  // Recorded in chunks.log, fsynced, not yet acknowledged: stored.
  'chunk.recorded',
  'commit.committing-temp',
  // The record says committing: chunk writers, acquire and abort are fenced out.
  'commit.committing',
  // The object's description is in objects/<id>.json; the object is not published yet.
  'commit.record-written',
  // The part file, verified, is renamed into objects/: the commit happened.
  'commit.object-published',
  'commit.manifest-temp',
  'commit.recorded',
  'commit.chunks-removed',
  // objects.delete: the bytes are gone, the description not yet (spec/OBJECTS.md FW-OBJ-14).
  'delete.object-removed',
] as const;

export type FsStoreStep = (typeof fsStoreSteps)[number];

/** Synchronous: a SIGKILL sent from it lands before the next file-system call. */
export type StepHook = (step: FsStoreStep) => void;

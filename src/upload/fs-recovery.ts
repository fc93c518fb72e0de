/**
 * What the file-system upload store does once at start, before it serves anything (spec/UPLOAD.md
 * FW-UP-51): removes what a crash (even SIGKILL) can leave behind, and names the uploads whose
 * directories still hold data, so that loading them finishes an interrupted commit or removal.
 *
 * What a crash can leave, and why removing it is safe:
 * - `objects-tmp/*`, `uploads-tmp/*`: objects being assembled and uploads being created. Neither
 *   was acknowledged: a commit answers after its rename into `objects/`, a create after its
 *   upload directory was renamed into `uploads/`.
 * - `uploads/<id>/manifest.json.tmp-*`, `keys/*.tmp-*`: atomic replaces cut before their rename;
 *   the old file is the truth.
 * - `uploads/<id>/` without `manifest.json`: a sweep's recursive removal cut short (the upload was
 *   being forgotten), or a create of a version before staging.
 */

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ATOMIC_TEMP, ifExists } from './fs-util.ts';
import { isUploadId } from './protocol.ts';

export const MANIFEST = 'manifest.json';

/** Directories whose content is never acknowledged: emptied at every start. */
export const STAGING_DIRS = ['objects-tmp', 'uploads-tmp'] as const;

/** Cleans the layout under `dataDir`; returns the ids of uploads that still hold chunks or temp files. */
export async function recoverLayout(dataDir: string): Promise<string[]> {
  for (const d of STAGING_DIRS) {
    await rm(join(dataDir, d), { recursive: true, force: true });
    await mkdir(join(dataDir, d), { recursive: true });
  }
  const keys = join(dataDir, 'keys');
  for (const name of await readdir(keys)) if (ATOMIC_TEMP.test(name)) await rm(join(keys, name), { force: true });
  const withData: string[] = [];
  const uploads = join(dataDir, 'uploads');
  for (const id of await readdir(uploads)) {
    if (!isUploadId(id)) continue;
    const dir = join(uploads, id);
    const entries = (await ifExists(() => readdir(dir))) ?? [];
    for (const name of entries) if (name.startsWith(`${MANIFEST}.`) && ATOMIC_TEMP.test(name)) await rm(join(dir, name), { force: true });
    if (!entries.includes(MANIFEST)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (entries.includes('chunks') || entries.includes('tmp')) withData.push(id);
  }
  return withData;
}

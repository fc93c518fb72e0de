/**
 * What the file-system metadata backend removes once at start, before the store serves anything
 * (spec/UPLOAD.md FW-UP-51): the debris a crash (even SIGKILL) can leave in its directories. The
 * upload state machine then settles what the records say (interrupted commits and removals, chunk
 * data no unfinished upload owns); a torn last line of a chunk journal is cut when it is read.
 *
 * What a crash can leave here, and why removing it is safe:
 * - `uploads-tmp/*`: uploads being created, never acknowledged (a create answers after its upload
 *   directory was renamed into `uploads/`).
 * - `uploads/<id>/manifest.json.tmp-*`, `keys/*.tmp-*`: atomic replaces cut before their rename;
 *   the old file is the truth.
 * - `uploads/<id>/` without `manifest.json`: a sweep's recursive removal cut short (the upload was
 *   being forgotten).
 */

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ATOMIC_TEMP, ifExists } from './fs-util.ts';
import { isUploadId } from './protocol.ts';

export const MANIFEST = 'manifest.json';

export async function cleanLayout(dataDir: string): Promise<void> {
  await rm(join(dataDir, 'uploads-tmp'), { recursive: true, force: true });
  await mkdir(join(dataDir, 'uploads-tmp'), { recursive: true });
  const keys = join(dataDir, 'keys');
  for (const name of await readdir(keys)) if (ATOMIC_TEMP.test(name)) await rm(join(keys, name), { force: true });
  const uploads = join(dataDir, 'uploads');
  for (const id of await readdir(uploads)) {
    if (!isUploadId(id)) continue;
    const dir = join(uploads, id);
    const entries = (await ifExists(() => readdir(dir))) ?? [];
    for (const name of entries) if (name.startsWith(`${MANIFEST}.`) && ATOMIC_TEMP.test(name)) await rm(join(dir, name), { force: true });
    if (!entries.includes(MANIFEST)) await rm(dir, { recursive: true, force: true });
  }
}

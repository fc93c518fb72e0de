/**
 * The unfinished uploads of one principal, a page at a time in upload-id order (FW-UP-60). Written
 * over the metadata interface's enumeration, so every backend answers it the same way; it reads
 * each record once, which the bound on unfinished uploads (FW-UP-37) keeps small.
 */

import type { UploadMetaStore } from './backends.ts';
import { infoOf } from './rules.ts';
import type { UploadInfo } from './store.ts';

export interface UnfinishedPage {
  readonly uploads: readonly UploadInfo[];
  readonly more: boolean;
}

export async function listUnfinished(meta: UploadMetaStore, owner: string, after: string | undefined, limit: number, now: number): Promise<UnfinishedPage> {
  const ids = (await meta.ids()).filter((id) => after === undefined || id > after).sort();
  const uploads: UploadInfo[] = [];
  for (const id of ids) {
    const s = await meta.get(id);
    if (s?.record.owner !== owner) continue;
    const info = infoOf(s.record, s.chunks, now);
    if (info.state !== 'receiving' && info.state !== 'committing') continue;
    if (uploads.length === limit) return { uploads, more: true };
    uploads.push(info);
  }
  return { uploads, more: false };
}

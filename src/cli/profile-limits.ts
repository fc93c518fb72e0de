/**
 * The `serve` flags for the profiles' aggregate limits (spec/UPLOAD.md §11.6, spec/EVENTS.md
 * §12.10): what unfinished uploads may hold, per principal and in total. Each flag's default is the
 * library's; a flag that is absent leaves it.
 */

import type { Command } from 'commander';
import { defaultUploadQuota, type UploadQuotaLimits } from '../upload/index.ts';
import { parseCount, parseSize } from './parse.ts';

export interface ProfileLimitFlags {
  maxUploads?: string;
  maxUploadsPerPrincipal?: string;
  maxUploadBytesPerPrincipal?: string;
  minFreeDisk?: string;
}

export interface ProfileLimits {
  readonly uploadQuota: Partial<UploadQuotaLimits>;
}

export function addProfileLimitFlags(command: Command): Command {
  const q = defaultUploadQuota;
  return command
    .option('--max-uploads <n>', `unfinished uploads on the server, all principals (default ${q.maxUploads})`)
    .option('--max-uploads-per-principal <n>', `unfinished uploads of one principal (default ${q.maxUploadsPerPrincipal})`)
    .option('--max-upload-bytes-per-principal <size>', 'sum of the sizes one principal declared for its unfinished uploads (default 1TiB)')
    .option('--min-free-disk <size>', 'free space kept beyond what unfinished uploads still have to write; creates that would eat into it are refused (default 1GiB)');
}

export function profileLimitsFrom(flags: ProfileLimitFlags): ProfileLimits {
  const uploadQuota: { -readonly [K in keyof UploadQuotaLimits]?: number } = {};
  if (flags.maxUploads !== undefined) uploadQuota.maxUploads = parseCount(flags.maxUploads, '--max-uploads');
  if (flags.maxUploadsPerPrincipal !== undefined) uploadQuota.maxUploadsPerPrincipal = parseCount(flags.maxUploadsPerPrincipal, '--max-uploads-per-principal');
  if (flags.maxUploadBytesPerPrincipal !== undefined) uploadQuota.maxDeclaredBytesPerPrincipal = parseSize(flags.maxUploadBytesPerPrincipal, '--max-upload-bytes-per-principal', { allowZero: true });
  if (flags.minFreeDisk !== undefined) uploadQuota.minFreeBytes = parseSize(flags.minFreeDisk, '--min-free-disk', { allowZero: true });
  return { uploadQuota };
}

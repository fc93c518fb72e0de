/**
 * The `serve` flags for the profiles' aggregate limits (spec/UPLOAD.md §11.6, spec/EVENTS.md
 * §12.10): what unfinished uploads and event-stream instances may hold, per connection, per
 * principal and in total. Each flag's default is the library's; a flag that is absent leaves it.
 */

import type { Command } from 'commander';
// The limits' own modules, not the profiles' index files: `framewire --help` must not load the profiles.
import { defaultEventLimits, type EventLimits } from '../events/limits.ts';
import { defaultUploadQuota, type UploadQuotaLimits } from '../upload/quota.ts';
import { parseCount, parseSize } from './parse.ts';

export interface ProfileLimitFlags {
  maxUploads?: string;
  maxUploadsPerPrincipal?: string;
  maxUploadBytesPerPrincipal?: string;
  minFreeDisk?: string;
  maxEventInstances?: string;
  maxEventInstancesPerPrincipal?: string;
  maxSubscriptionsPerConnection?: string;
  eventReplayBudget?: string;
  eventReplayBudgetPerPrincipal?: string;
}

export interface ProfileLimits {
  readonly uploadQuota: Partial<UploadQuotaLimits>;
  readonly eventLimits: Partial<EventLimits>;
}

const MiB = 1024 * 1024;

export function addProfileLimitFlags(command: Command): Command {
  const q = defaultUploadQuota;
  const e = defaultEventLimits;
  return command
    .option('--max-uploads <n>', `unfinished uploads on the server, all principals (default ${q.maxUploads})`)
    .option('--max-uploads-per-principal <n>', `unfinished uploads of one principal (default ${q.maxUploadsPerPrincipal})`)
    .option('--max-upload-bytes-per-principal <size>', 'sum of the sizes one principal declared for its unfinished uploads (default 1TiB)')
    .option('--min-free-disk <size>', 'free space kept beyond what unfinished uploads still have to write; creates that would eat into it are refused (default 1GiB)')
    .option('--max-event-instances <n>', `event-stream instances on the server, all principals (default ${e.maxInstances})`)
    .option('--max-event-instances-per-principal <n>', `event-stream instances of one principal, attached or in their grace period (default ${e.maxInstancesPerPrincipal})`)
    .option('--max-subscriptions-per-connection <n>', `event subscriptions attached at once on one connection (default ${e.maxSubscriptionsPerConnection})`)
    .option('--event-replay-budget <size>', `replay-log memory of all instances together (default ${e.maxReplayBytes / MiB}MiB)`)
    .option('--event-replay-budget-per-principal <size>', `replay-log memory of one principal's instances (default ${e.maxReplayBytesPerPrincipal / MiB}MiB)`);
}

export function profileLimitsFrom(flags: ProfileLimitFlags): ProfileLimits {
  const uploadQuota: { -readonly [K in keyof UploadQuotaLimits]?: number } = {};
  if (flags.maxUploads !== undefined) uploadQuota.maxUploads = parseCount(flags.maxUploads, '--max-uploads');
  if (flags.maxUploadsPerPrincipal !== undefined) uploadQuota.maxUploadsPerPrincipal = parseCount(flags.maxUploadsPerPrincipal, '--max-uploads-per-principal');
  if (flags.maxUploadBytesPerPrincipal !== undefined) uploadQuota.maxDeclaredBytesPerPrincipal = parseSize(flags.maxUploadBytesPerPrincipal, '--max-upload-bytes-per-principal', { allowZero: true });
  if (flags.minFreeDisk !== undefined) uploadQuota.minFreeBytes = parseSize(flags.minFreeDisk, '--min-free-disk', { allowZero: true });
  const eventLimits: { -readonly [K in keyof EventLimits]?: number } = {};
  if (flags.maxEventInstances !== undefined) eventLimits.maxInstances = parseCount(flags.maxEventInstances, '--max-event-instances');
  if (flags.maxEventInstancesPerPrincipal !== undefined) eventLimits.maxInstancesPerPrincipal = parseCount(flags.maxEventInstancesPerPrincipal, '--max-event-instances-per-principal');
  if (flags.maxSubscriptionsPerConnection !== undefined) eventLimits.maxSubscriptionsPerConnection = parseCount(flags.maxSubscriptionsPerConnection, '--max-subscriptions-per-connection');
  if (flags.eventReplayBudget !== undefined) eventLimits.maxReplayBytes = parseSize(flags.eventReplayBudget, '--event-replay-budget', { allowZero: true });
  if (flags.eventReplayBudgetPerPrincipal !== undefined) eventLimits.maxReplayBytesPerPrincipal = parseSize(flags.eventReplayBudgetPerPrincipal, '--event-replay-budget-per-principal', { allowZero: true });
  return { uploadQuota, eventLimits };
}

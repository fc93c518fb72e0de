/** `serve`'s limit flags (spec/UPLOAD.md §11.6, spec/EVENTS.md §12.10) reach the library's options. */

import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addProfileLimitFlags, profileLimitsFrom, type ProfileLimitFlags } from '../../src/cli/profile-limits.ts';

function parse(argv: string[]): ReturnType<typeof profileLimitsFrom> {
  const cmd = addProfileLimitFlags(new Command('serve').exitOverride());
  cmd.parse(argv, { from: 'user' });
  return profileLimitsFrom(cmd.opts<ProfileLimitFlags>());
}

describe('serve limit flags', () => {
  it('FW-UP-37 FW-EV-71: each flag sets its limit; absent flags leave the defaults', () => {
    expect(parse([])).toEqual({ uploadQuota: {}, eventLimits: {} });
    expect(
      parse([
        '--max-uploads', '10', '--max-uploads-per-principal', '2', '--max-upload-bytes-per-principal', '1GiB', '--min-free-disk', '0',
        '--max-event-instances', '100', '--max-event-instances-per-principal', '5', '--max-subscriptions-per-connection', '3',
        '--event-replay-budget', '32MiB', '--event-replay-budget-per-principal', '8MiB',
      ]),
    ).toEqual({
      uploadQuota: { maxUploads: 10, maxUploadsPerPrincipal: 2, maxDeclaredBytesPerPrincipal: 2 ** 30, minFreeBytes: 0 },
      eventLimits: { maxInstances: 100, maxInstancesPerPrincipal: 5, maxSubscriptionsPerConnection: 3, maxReplayBytes: 32 * 2 ** 20, maxReplayBytesPerPrincipal: 8 * 2 ** 20 },
    });
  });

  it('refuses what is not a count or a size', () => {
    expect(() => parse(['--max-uploads', '-1'])).toThrow(/not a count/u);
    expect(() => parse(['--max-event-instances', '1.5'])).toThrow(/not a count/u);
    expect(() => parse(['--event-replay-budget', 'lots'])).toThrow(/not a size/u);
  });
});

/**
 * One classification of failures for every resuming client (spec/PROTOCOL.md §9, FW-ERR-4): a
 * failed connection is resumed from whatever its code; only errors on a live connection speak
 * about the operation.
 */

import { describe, expect, it } from 'vitest';
import { ErrorCodes, FramewireError, type ErrorCodeName } from '../../src/errors.ts';
import { classifyFailure } from '../../src/session/index.ts';

const all = Object.keys(ErrorCodes) as ErrorCodeName[];

describe('classifyFailure', () => {
  it('FW-ERR-4: every code but the dead ends is a connection failure when the connection is gone', () => {
    for (const code of all) {
      const expected = code === 'AUTH_FAILED' || code === 'UNSUPPORTED_VERSION' || code === 'NOT_FRAMEWIRE' ? 'final' : 'connection';
      expect(classifyFailure(new FramewireError(code, 'x', { remote: true }), false), code).toBe(expected);
    }
  });

  it('FW-ERR-4: the transmission errors of issue 12 are connection failures even before the session noticed', () => {
    for (const code of ['FRAME_SIZE', 'BAD_CRC', 'TRUNCATED', 'CONNECTION_LOST', 'IDLE_TIMEOUT', 'SEQ_ERROR'] as const) {
      expect(classifyFailure(new FramewireError(code, 'x'), true), code).toBe('connection');
    }
  });

  it('FW-ERR-4: on a live connection, refusals before processing, transient and final failures of the operation', () => {
    const on = (code: ErrorCodeName, retryable?: boolean): string => classifyFailure(new FramewireError(code, 'x', { remote: true, streamId: 1, ...(retryable === undefined ? {} : { retryable }) }), true);
    expect(on('REFUSED_STREAM')).toBe('refused');
    expect(on('LIMIT_EXCEEDED')).toBe('refused');
    for (const code of ['INTERNAL', 'TIMEOUT', 'CHUNK_CHECKSUM', 'PRODUCER_FAILED', 'LEASE_CONFLICT'] as const) expect(on(code), code).toBe('transient');
    for (const code of ['PROTOCOL_ERROR', 'MALFORMED_PAYLOAD', 'NOT_FOUND', 'UPLOAD_NOT_FOUND', 'DIGEST_MISMATCH', 'ABORTED', 'EXPIRED', 'RESUME_GAP', 'ALREADY_COMMITTED'] as const) {
      expect(on(code), code).toBe('final');
    }
    // The frame's retryable key overrides the registry (FW-ERROR-2).
    expect(on('PRODUCER_FAILED', false)).toBe('final');
    expect(on('NOT_FOUND', true)).toBe('transient');
  });
});

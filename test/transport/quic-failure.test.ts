/** How the QUIC library's errors become framewire errors (spec FW-QUIC-7, FW-QUIC-9): quinn's messages as the binding reports them. */

import { describe, expect, it } from 'vitest';
import { classifyQuicFailure } from '../../src/transport/quic/failure.ts';

describe('classifyQuicFailure', () => {
  it('FW-QUIC-7: a peer STOP_SENDING (seen by a write) and RESET_STREAM (seen by a read) are stream-level PROTOCOL_ERRORs that say which', () => {
    const stopped = classifyQuicFailure(new Error('sending stopped by peer: error 0'), 'write', 3);
    expect(stopped.streamOnly).toBe(true);
    expect(stopped.error.code).toBe('PROTOCOL_ERROR');
    expect(stopped.error.message).toContain('stopped (STOP_SENDING) the QUIC stream of stream 3');
    const reset = classifyQuicFailure(new Error('stream reset by peer: error 0'), 'read', 3);
    expect(reset.streamOnly).toBe(true);
    expect(reset.error.message).toContain('reset (RESET_STREAM) the QUIC stream of stream 3');
  });

  it('FW-QUIC-9: a lost connection is CONNECTION_LOST, an unknown failure INTERNAL', () => {
    expect(classifyQuicFailure(new Error('timed out'), 'read', 0)).toMatchObject({ streamOnly: false, error: { code: 'CONNECTION_LOST' } });
    expect(classifyQuicFailure(new Error('something new'), 'write', 1)).toMatchObject({ streamOnly: false, error: { code: 'INTERNAL' } });
  });
});

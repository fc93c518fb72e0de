/**
 * FW-QUIC-9 with the real failure: an nftables drop on OUTPUT makes every UDP send fail with EPERM
 * (what made @matrixai/quic throw an uncaught error, bench/quic-libraries). Both framewire sessions
 * must end with a coded error within the idle timeout, the server must close within its bound, and
 * the process must not crash. Needs root, iproute2 and nftables (a namespace of its own, named with
 * this process's pid); skipped loudly otherwise. About 3 s.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quicAvailable } from '../../src/transport/index.ts';

const root = process.getuid?.() === 0;
const tools = ['ip', 'nft'].every((t) => spawnSync('which', [t]).status === 0);
const runnable = root && tools && quicAvailable();
if (!runnable) console.warn(`[quic-eperm] SKIPPED: needs root, ip and nft, and the QUIC binding (root=${root}, tools=${tools})`);

describe.skipIf(!runnable)('QUIC transport: sends failing with EPERM', () => {
  it('FW-QUIC-9: both sessions end with IDLE_TIMEOUT within the idle timeout, the server closes within its bound, no crash', () => {
    const ns = `fw-quic-eperm-${process.pid}`;
    spawnSync('ip', ['netns', 'add', ns]);
    try {
      spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const fixture = join(import.meta.dirname, 'fixtures', 'quic-eperm.ts');
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fixture], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { client: string; server: string; closedAfterMs: number; serverCloseMs: number };
      expect(result.client).toBe('IDLE_TIMEOUT');
      expect(result.server).toBe('IDLE_TIMEOUT');
      // idle_timeout_ms is 1000: reported at the first heartbeat check after it.
      expect(result.closedAfterMs).toBeLessThan(3000);
      expect(result.serverCloseMs).toBeLessThan(3000);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});

/**
 * The receiving side of the end-to-end benchmark, one child process per protocol:
 *   node --import tsx bench/e2e/server.ts <protocol>
 * Listens on a free loopback port, reports it over IPC, and measures its own CPU time between
 * `cpu-mark` and `cpu-read` commands. Profile it with
 *   node --cpu-prof --import tsx bench/e2e/server.ts framewire   (or `npm run bench:e2e -- --profile`).
 */

import { cpuSince, idle, PROTOCOLS, type ParentMessage, type Protocol } from './common.ts';
import { servers } from './protocols.ts';
import { WindowProfiler } from './window-profile.ts';

const proto = process.argv[2] as Protocol;
if (!PROTOCOLS.includes(proto)) throw new Error(`unknown protocol ${process.argv[2]}`);

idle.rss = process.memoryUsage.rss();
const port = await servers[proto]();
let mark = process.cpuUsage();
const profiler = WindowProfiler.fromEnv();

// The orchestrator is gone (finished or crashed): do not linger.
process.on('disconnect', () => process.exit(0));
process.on('message', (raw) => {
  const m = raw as ParentMessage;
  switch (m.cmd) {
    case 'cpu-mark':
      void (profiler?.start() ?? Promise.resolve()).then(() => {
        mark = process.cpuUsage();
        process.send!({ type: 'ack', id: m.id });
      });
      return;
    case 'cpu-read': {
      const cpu = cpuSince(mark);
      void (profiler?.stop() ?? Promise.resolve()).then(() => process.send!({ type: 'cpu', id: m.id, cpu }));
      return;
    }
    case 'exit':
      // Let --cpu-prof write its profile: exit through the normal path.
      process.disconnect();
      process.exit(0);
      return;
    case 'run':
      return;
  }
});
process.send!({ type: 'listening', port });

/** Every command of the CLI, registered in the order --help lists them. */

import type { Command } from 'commander';
import { registerBench } from './bench.ts';
import { registerConformance } from './conformance.ts';
import { registerDemo } from './demo.ts';
import { registerDownload } from './download.ts';
import { registerInspect } from './inspect.ts';
import { registerObjects, ROUND_TRIP_HELP } from './objects.ts';
import { registerPerf } from './perf.ts';
import { registerServe } from './serve.ts';
import { registerTail } from './tail.ts';
import { registerUpload } from './upload.ts';
import { registerUploads } from './uploads.ts';

export function registerCommands(program: Command): void {
  registerDemo(program);
  registerServe(program);
  registerUpload(program);
  registerDownload(program);
  registerObjects(program);
  registerUploads(program);
  registerTail(program);
  registerInspect(program);
  registerPerf(program);
  registerBench(program);
  registerConformance(program);
  program.addHelpText('after', ROUND_TRIP_HELP);
}

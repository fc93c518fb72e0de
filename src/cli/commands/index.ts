/** Every command of the CLI, registered in the order --help lists them. */

import type { Command } from 'commander';
import { registerInspect } from './inspect.ts';

export function registerCommands(program: Command): void {
  registerInspect(program);
}

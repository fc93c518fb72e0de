/** `framewire conformance --target host:port|quic://host:port?peer=ID`: the black-box conformance runner (src/conformance). */

import type { Command } from 'commander';
import { usage } from '../../conformance/usage.ts';

export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description('run the black-box conformance suite against a framewire server (cases keyed by spec requirement ids)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'see --help')
    .addHelpText('after', `
${usage}

Examples:
  framewire conformance --target 127.0.0.1:7070
  framewire conformance --target 127.0.0.1:7070 --strict --cases 'FW-FLOW-*,FW-STREAM-*' --junit report.xml
  framewire conformance --target 'quic://127.0.0.1:7071?peer=12D3KooW…'   (QUIC, spec §14: the peer id serve printed)

Over QUIC the runner writes each frame on the QUIC stream its stream id names and adds the FW-QUIC-*
cases; cases that do not apply to the target's transport are reported N/A with the reason.`)
    .action(async (args: string[], _options: unknown, command: Command) => {
      if (args.includes('--help') || args.includes('-h')) {
        command.outputHelp();
        return;
      }
      const { main: conformanceMain } = await import('../../conformance/main.ts');
      process.exitCode = await conformanceMain(args);
    });
}

/** `framewire conformance --target host:port|quic://host:port?peer=ID [--peer-target …]`: the black-box conformance runner (src/conformance). */

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
  framewire conformance --target 10.0.0.1:7070 --peer-target 10.0.0.2:7070 --strict   (two nodes of one cluster)

Over QUIC the runner writes each frame on the QUIC stream its stream id names and adds the FW-QUIC-*
cases; cases that do not apply to the target's transport are reported N/A with the reason.

--peer-target names a second node of the target's cluster (same shared store, e.g. two
\`framewire serve --redis URL --data-dir DIR\` nodes; same forms as --target). It enables the
cluster cases: an event stream started on the target resumed, ended and cancelled on the peer
(FW-EV-100..102), an upload written on both and committed on the peer, racing commits and aborts
(FW-UP-25, FW-UP-28). Without it they are N/A ("needs a second node of the same cluster:
--peer-target"); node death and a Redis restart (FW-EV-103/104) are always N/A (the runner cannot
kill nodes).`)
    .action(async (args: string[], _options: unknown, command: Command) => {
      if (args.includes('--help') || args.includes('-h')) {
        command.outputHelp();
        return;
      }
      const { main: conformanceMain } = await import('../../conformance/main.ts');
      process.exitCode = await conformanceMain(args);
    });
}

/** The conformance runner's usage line, apart from the runner so that `framewire --help` need not load it. */
export const usage = `usage: framewire conformance --target HOST:PORT|quic://HOST:PORT[?peer=PEER_ID] [--peer-target HOST:PORT|quic://…]
                              [--cases GLOB[,GLOB…]] [--strict] [--json FILE] [--junit FILE] [--timeout MS] [--long-wait MS]
                              [--auth JSON] [--quiet]`;

/** L1 flow: credit windows as absolute byte offsets. No I/O. */
export { SendCredit } from './send-credit.ts';
export { ReceiveWindow, type ReceiveWindowOptions } from './receive-window.ts';
export { ConnectionFlow, type ConnectionFlowOptions } from './connection-flow.ts';
export { CONSUME_BATCH, StreamFlow, type StreamFlowOptions, type StreamFlowState } from './stream-flow.ts';

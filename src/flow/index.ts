/** L1 flow: credit windows as absolute byte offsets. No I/O. */
export { SendCredit } from './send-credit.ts';
export { ReceiveWindow, type ReceiveWindowOptions } from './receive-window.ts';

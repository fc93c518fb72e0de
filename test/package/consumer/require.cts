// The same package from a CommonJS TypeScript module: nodenext lets it require() the ES module
// package, as node >= 20.19 does at run time.
import framewire = require('framewire');
import events = require('framewire/events');

export const connectFn: typeof framewire.connect = framewire.connect;
export const service: events.EventService = new events.EventService();

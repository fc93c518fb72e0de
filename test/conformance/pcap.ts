/**
 * Writes a classic pcap file from recorded TCP payload bytes, with synthetic Ethernet, IPv4 and
 * TCP headers (a three-way handshake first, then the data segments with consistent seq/ack
 * numbers), so that Wireshark's TCP reassembly sees a real conversation.
 */

export interface Segment {
  /** 'c2s' from client to server, 's2c' back. */
  readonly dir: 'c2s' | 's2c';
  readonly bytes: Uint8Array;
}

const CLIENT = { mac: Buffer.from('020000000001', 'hex'), ip: Buffer.from([10, 0, 0, 1]), port: 40000 };
const SERVER = { mac: Buffer.from('020000000002', 'hex'), ip: Buffer.from([10, 0, 0, 2]) };

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function writePcap(segments: readonly Segment[], serverPort: number): Buffer {
  const out: Buffer[] = [];
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(262144, 16);
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  out.push(global);
  let time = 1_700_000_000_000_000; // µs
  const seq = { c2s: 1000, s2c: 5000 };
  let ipId = 1;
  const packet = (dir: 'c2s' | 's2c', flags: number, payload: Uint8Array): void => {
    const from = dir === 'c2s' ? CLIENT : SERVER;
    const to = dir === 'c2s' ? SERVER : CLIENT;
    const srcPort = dir === 'c2s' ? CLIENT.port : serverPort;
    const dstPort = dir === 'c2s' ? serverPort : CLIENT.port;
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(srcPort, 0);
    tcp.writeUInt16BE(dstPort, 2);
    tcp.writeUInt32BE(seq[dir] >>> 0, 4);
    tcp.writeUInt32BE(seq[dir === 'c2s' ? 's2c' : 'c2s'] >>> 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp.writeUInt16BE(65535, 14);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + payload.length, 2);
    ip.writeUInt16BE(ipId++ & 0xffff, 4);
    ip[6] = 0x40; // don't fragment
    ip[8] = 64;
    ip[9] = 6;
    from.ip.copy(ip, 12);
    to.ip.copy(ip, 16);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    const eth = Buffer.concat([to.mac, from.mac, Buffer.from([0x08, 0x00])]);
    const frame = Buffer.concat([eth, ip, tcp, payload]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(time / 1e6), 0);
    rec.writeUInt32LE(time % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    out.push(rec, frame);
    time += 100;
    seq[dir] += payload.length + ((flags & 0x03) !== 0 ? 1 : 0); // SYN and FIN take one sequence number
  };
  const SYN = 0x02;
  const ACK = 0x10;
  const PSH = 0x08;
  const FIN = 0x01;
  packet('c2s', SYN, new Uint8Array(0));
  packet('s2c', SYN | ACK, new Uint8Array(0));
  packet('c2s', ACK, new Uint8Array(0));
  for (const s of segments) packet(s.dir, PSH | ACK, s.bytes);
  packet('c2s', FIN | ACK, new Uint8Array(0));
  packet('s2c', FIN | ACK, new Uint8Array(0));
  return Buffer.concat(out);
}

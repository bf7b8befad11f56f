/**
 * A small pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface Description Block with
 * LINKTYPE_RAW (packets start at the IPv4 header), and an Enhanced Packet Block per packet. Plus the synthetic IPv4
 * and TCP/UDP headers the handshake export wraps its bytes in, with correct checksums. No DOM, no Node: testable in
 * Node and used in the browser.
 */

/** LINKTYPE_RAW: each packet begins with an IPv4 or IPv6 header. */
export const LINKTYPE_RAW = 101;

export interface CapturedPacket {
  /** Microseconds since the Unix epoch. */
  timestampUs: number;
  /** The packet from its IP header on. */
  data: Uint8Array;
  /** Shown by Wireshark as the packet comment (pkt_comment). */
  comment?: string;
}

const encoder = new TextEncoder();

/** Block bodies are padded to 32 bits. */
function pad4(n: number): number {
  return (n + 3) & ~3;
}

class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  block(type: number, body: Uint8Array): void {
    const total = 12 + body.length;
    const out = new Uint8Array(total);
    const v = new DataView(out.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, total, true);
    out.set(body, 8);
    v.setUint32(total - 4, total, true);
    this.chunks.push(out);
    this.size += total;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Options: code, length, value padded to 32 bits, closed by opt_endofopt. */
function options(list: Array<[number, Uint8Array]>): Uint8Array {
  if (list.length === 0) return new Uint8Array(0);
  const size = list.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [code, value] of list) {
    view.setUint16(at, code, true);
    view.setUint16(at + 2, value.length, true);
    out.set(value, at + 4);
    at += 4 + pad4(value.length);
  }
  return out; // the last 4 bytes stay zero: opt_endofopt
}

/** A whole pcapng file: `comment` goes into the section header (shb_comment), `application` into shb_userappl. */
export function writePcapng(packets: readonly CapturedPacket[], meta: { comment?: string; application?: string } = {}): Uint8Array<ArrayBuffer> {
  const w = new Writer();
  const shbOptions: Array<[number, Uint8Array]> = [];
  if (meta.comment) shbOptions.push([1, encoder.encode(meta.comment)]);
  if (meta.application) shbOptions.push([4, encoder.encode(meta.application)]);
  const shbOpts = options(shbOptions);
  const shb = new Uint8Array(16 + shbOpts.length);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, 0x1a2b3c4d, true); // byte-order magic
  sv.setUint16(4, 1, true);
  sv.setUint16(6, 0, true);
  sv.setInt32(8, -1, true); // section length: not given
  sv.setInt32(12, -1, true);
  shb.set(shbOpts, 16);
  w.block(0x0a0d0d0a, shb);

  const idb = new Uint8Array(8);
  const iv = new DataView(idb.buffer);
  iv.setUint16(0, LINKTYPE_RAW, true);
  iv.setUint32(4, 0, true); // snaplen: no limit
  w.block(0x00000001, idb);

  for (const p of packets) {
    const opts = options(p.comment ? [[1, encoder.encode(p.comment)]] : []);
    const body = new Uint8Array(20 + pad4(p.data.length) + opts.length);
    const v = new DataView(body.buffer);
    const ts = BigInt(Math.round(p.timestampUs));
    v.setUint32(0, 0, true); // interface 0
    v.setUint32(4, Number(ts >> 32n), true);
    v.setUint32(8, Number(ts & 0xffffffffn), true);
    v.setUint32(12, p.data.length, true);
    v.setUint32(16, p.data.length, true);
    body.set(p.data, 20);
    body.set(opts, 20 + pad4(p.data.length));
    w.block(0x00000006, body);
  }
  return w.bytes();
}

/** The Internet checksum (RFC 1071) over `parts`, concatenated. */
function checksum(parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const part of parts) {
    for (const b of part) {
      if (odd === undefined) odd = b;
      else {
        sum += (odd << 8) | b;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Endpoint {
  /** Four bytes of an IPv4 address. */
  ip: readonly number[];
  port: number;
}

let ipId = 1;

function ipv4(src: Endpoint, dst: Endpoint, protocol: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + payload.length);
  const v = new DataView(out.buffer);
  out[0] = 0x45;
  v.setUint16(2, out.length);
  v.setUint16(4, ipId++ & 0xffff);
  v.setUint16(6, 0x4000); // don't fragment
  out[8] = 64;
  out[9] = protocol;
  out.set(src.ip, 12);
  out.set(dst.ip, 16);
  v.setUint16(10, checksum([out.subarray(0, 20)]));
  out.set(payload, 20);
  return out;
}

function pseudoHeader(src: Endpoint, dst: Endpoint, protocol: number, length: number): Uint8Array {
  return Uint8Array.from([...src.ip, ...dst.ip, 0, protocol, length >> 8, length & 0xff]);
}

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** An IPv4 packet carrying one TCP segment (20-byte header, no options, window 65535). */
export function tcpPacket(src: Endpoint, dst: Endpoint, seq: number, ack: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const seg = new Uint8Array(20 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, src.port);
  v.setUint16(2, dst.port);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, ack >>> 0);
  seg[12] = 5 << 4;
  seg[13] = flags;
  v.setUint16(14, 0xffff);
  seg.set(payload, 20);
  v.setUint16(16, checksum([pseudoHeader(src, dst, 6, seg.length), seg]));
  return ipv4(src, dst, 6, seg);
}

/** An IPv4 packet carrying one UDP datagram. */
export function udpPacket(src: Endpoint, dst: Endpoint, payload: Uint8Array): Uint8Array {
  const seg = new Uint8Array(8 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, src.port);
  v.setUint16(2, dst.port);
  v.setUint16(4, seg.length);
  seg.set(payload, 8);
  v.setUint16(6, checksum([pseudoHeader(src, dst, 17, seg.length), seg]) || 0xffff);
  return ipv4(src, dst, 17, seg);
}

/**
 * One TCP conversation between a client and a server endpoint: `open()` gives the three-way handshake, `send()` a
 * segment each way with sequence and acknowledgement numbers that follow the bytes already sent.
 */
export class TcpConversation {
  private clientSeq: number;
  private serverSeq: number;

  constructor(
    readonly client: Endpoint,
    readonly server: Endpoint,
    isn = 1000,
  ) {
    this.clientSeq = isn;
    this.serverSeq = isn * 2;
  }

  /** SYN, SYN-ACK, ACK. */
  open(): Uint8Array[] {
    const syn = tcpPacket(this.client, this.server, this.clientSeq, 0, TcpFlag.SYN);
    this.clientSeq++;
    const synAck = tcpPacket(this.server, this.client, this.serverSeq, this.clientSeq, TcpFlag.SYN | TcpFlag.ACK);
    this.serverSeq++;
    const ack = tcpPacket(this.client, this.server, this.clientSeq, this.serverSeq, TcpFlag.ACK);
    return [syn, synAck, ack];
  }

  /** Bytes from the client (`toServer`) or the server, as segments of at most 1460 bytes with PSH on the last. */
  send(toServer: boolean, bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += 1460) {
      const chunk = bytes.subarray(at, at + 1460);
      const flags = TcpFlag.ACK | (at + 1460 >= bytes.length ? TcpFlag.PSH : 0);
      if (toServer) {
        out.push(tcpPacket(this.client, this.server, this.clientSeq, this.serverSeq, flags, chunk));
        this.clientSeq += chunk.length;
      } else {
        out.push(tcpPacket(this.server, this.client, this.serverSeq, this.clientSeq, flags, chunk));
        this.serverSeq += chunk.length;
      }
    }
    return out;
  }
}

/**
 * A minimal DNS responder (RFC 1035 wire format) on loopback, for the demo and for tests that point the bridge's
 * `dns.servers` at it: one question, class IN, A and AAAA answers from a callback (with their TTLs, so a test can
 * serve TTL 0 answers that change between queries).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { parseIPv6 } from '../../shared/socks/address.ts';

export interface DnsRecord {
  address: string;
  ttl: number;
}

/**
 * Answers a question: the records of that type (A: 1, AAAA: 28; an IPv4 address for A, IPv6 for AAAA), [] when the
 * name exists without such records (NODATA), null when it does not exist (NXDOMAIN).
 */
export type DnsLookup = (name: string, type: number) => DnsRecord[] | null;

export const DNS_TYPE_A = 1;
export const DNS_TYPE_AAAA = 28;

/** Builds the response to one query; null for garbage (no response is sent). */
export function answerDns(query: Buffer, lookup: DnsLookup): Buffer | null {
  if (query.length < 17) return null;
  let at = 12;
  const labels: string[] = [];
  while (at < query.length && query[at] !== 0) {
    const len = query[at]!;
    if (len > 63 || at + 1 + len > query.length) return null;
    labels.push(query.subarray(at + 1, at + 1 + len).toString('latin1').toLowerCase());
    at += 1 + len;
  }
  const questionEnd = at + 5;
  if (questionEnd > query.length) return null;
  const qtype = query.readUInt16BE(at + 1);
  const records = lookup(labels.join('.'), qtype);
  const answers = (records ?? []).flatMap((r) => {
    const bytes = qtype === DNS_TYPE_A && isIP(r.address) === 4 ? Buffer.from(r.address.split('.').map(Number)) : qtype === DNS_TYPE_AAAA ? parseIPv6(r.address) : null;
    if (!bytes) return [];
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(r.ttl, 6);
    rr.writeUInt16BE(bytes.length, 10);
    return [rr, Buffer.from(bytes)];
  });
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // ID
  header.writeUInt16BE(0x8180 | (records === null ? 3 : 0), 2); // response, RD+RA, NOERROR/NXDOMAIN
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

export interface DnsServer {
  socket: UdpSocket;
  port: number;
  /** `host:port`, for `dns.servers`. */
  address: string;
  close(): Promise<void>;
}

/** Serves `lookup` on UDP at host (127.0.0.1 by default), an ephemeral port. */
export async function startDnsServer(lookup: DnsLookup, host = '127.0.0.1'): Promise<DnsServer> {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answerDns(msg, lookup);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  const port = socket.address().port;
  return {
    socket,
    port,
    address: isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

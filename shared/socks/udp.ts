/** The header RFC 1928 §7 puts in front of every UDP datagram relayed through a SOCKS5 server. */
import { printable } from './address.ts';
import { decodeWith, type DecodeResult } from './reader.ts';
import { encodeSocks5Address, readSocks5Address, type SocksAddress } from './socks5-address.ts';
import { bytesOrThrow } from './encode-result.ts';

export interface UdpDatagram extends SocksAddress {
  /** Fragment number; 0 means a whole datagram. Servers that do not reassemble drop the others. */
  frag: number;
  data: Uint8Array;
}

const SPEC = 'RFC 1928 §7';

/** The longest header: RSV (2) + FRAG (1) + ATYP (1) + a 255-byte name with its length (256) + PORT (2). */
export const MAX_UDP_HEADER_BYTES = 262;

/** The most payload that fits in `bytes` after the longest header. */
export function udpPayloadRoom(bytes: number): number {
  return bytes - MAX_UDP_HEADER_BYTES;
}

/**
 * Decodes one datagram. A datagram is complete by nature, so a "need" result means it was truncated: a relay
 * should drop it.
 */
export function decodeUdpDatagram(bytes: Uint8Array, direction?: 'sent' | 'received'): DecodeResult<UdpDatagram> {
  return decodeWith(bytes, SPEC, (r) => {
    r.u16('wsocks.udp.reserved', 'RSV', (value) => (value === 0 ? 'reserved' : 'reserved, should be 0x0000'));
    const frag = r.u8('socks.fragment_number', 'FRAG', (value) =>
      value === 0 ? 'standalone datagram' : `fragment ${value & 0x7f}${value & 0x80 ? ' (last)' : ''}`,
    );
    const meaning =
      direction === 'received'
        ? { address: 'who sent the datagram to the relay', port: 'the sender’s port' }
        : { address: 'where the relay sends the datagram', port: 'destination port' };
    const address = readSocks5Address(r, 'dst', meaning);
    const data = r.rest('wsocks.udp.data', 'DATA', (b) => ({
      value: printable(b.subarray(0, 64)) + (b.length > 64 ? '...' : ''),
      meaning: `${b.length} bytes of user data`,
    }));
    return { frag, ...address, data };
  });
}

/** Throws a SocksError for a host or port SOCKS5 cannot carry; `encodeWith` turns that into a result. */
export function encodeUdpDatagram(datagram: { host: string; port: number; data: Uint8Array; frag?: number }): Uint8Array {
  const address = bytesOrThrow(encodeSocks5Address(datagram.host, datagram.port));
  const out = new Uint8Array(3 + address.length + datagram.data.length);
  out[2] = datagram.frag ?? 0;
  out.set(address, 3);
  out.set(datagram.data, 3 + address.length);
  return out;
}

/** The ATYP + ADDR + PORT triple that SOCKS5 requests, replies and UDP headers share (RFC 1928 §4, §5). */
import { AddressType, type AddressTypeCode, addressTypeText, Socks5ReplyCode } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import {
  asciiBytes,
  asciiText,
  formatIPv4,
  formatIPv6,
  hostKind,
  isValidHostname,
  parseIPv4,
  parseIPv6,
  stripBrackets,
} from './address.ts';
import type { Reader } from './reader.ts';
import type { EncodeResult } from './encode-result.ts';

/** A destination or bound address: an IP literal (IPv6 without brackets) or a host name, and a port. */
export interface SocksAddress {
  addressType: AddressTypeCode;
  host: string;
  port: number;
}

/** "dst" for requests and UDP headers, "bnd" for replies. */
export type AddressRole = 'dst' | 'bnd';

/** What the address and port hold, in words (they depend on the command and on which reply this is). */
export interface AddressMeaning {
  address: string;
  port: string;
}

/**
 * Reads ATYP, ADDR and PORT. Field names are Wireshark's (`socks.dst`, `socks.dstV6`, `socks.remote_name`,
 * `socks.port`, used by its dissector for requests and replies alike); the domain's length byte, which Wireshark
 * does not name, is `wsocks.remote_name_length`.
 */
export function readSocks5Address(r: Reader, role: AddressRole, meaning?: AddressMeaning): SocksAddress {
  const label = role === 'dst' ? 'DST' : 'BND';
  const words = meaning ?? (role === 'dst' ? { address: 'destination address', port: 'destination port' } : { address: 'address the server bound', port: 'port the server bound' });
  const atyp = r.u8('socks.address_type', 'ATYP', (value, offset) => {
    if (value !== AddressType.IPV4 && value !== AddressType.DOMAIN && value !== AddressType.IPV6) {
      throw new SocksError(SocksErrorCode.BAD_ATYP, `unknown address type 0x${hex2(value)}`, {
        offset,
        replyCode: Socks5ReplyCode.ADDRESS_TYPE_NOT_SUPPORTED,
      });
    }
    return addressTypeText(value);
  }) as AddressTypeCode;
  let host: string;
  if (atyp === AddressType.IPV4) {
    host = formatIPv4(r.take('socks.dst', `${label}.ADDR`, 4, (b) => ipMeaning(formatIPv4(b), words)));
  } else if (atyp === AddressType.IPV6) {
    host = formatIPv6(r.take('socks.dstV6', `${label}.ADDR`, 16, (b) => ipMeaning(formatIPv6(b), words)));
  } else {
    const length = r.u8('wsocks.remote_name_length', `${label}.ADDR length`, (value, offset) => {
      if (value === 0) throw new SocksError(SocksErrorCode.BAD_HOSTNAME, 'empty domain name', { offset });
      return `${value}-byte domain name follows`;
    });
    host = asciiText(
      r.take('socks.remote_name', `${label}.ADDR`, length, (b, offset) => {
        const name = asciiText(b);
        if (!isValidHostname(name)) {
          throw new SocksError(SocksErrorCode.BAD_HOSTNAME, 'domain name has bytes outside visible ASCII', {
            offset,
            replyCode: Socks5ReplyCode.GENERAL_FAILURE,
          });
        }
        return { value: name, meaning: `${words.address} (a name${role === 'dst' ? ' the server resolves' : ''})` };
      }),
    );
  }
  const port = r.u16('socks.port', `${label}.PORT`, (value) => `${words.port}: ${value}${value === 0 ? ' (unspecified)' : ''}`);
  return { addressType: atyp, host, port };
}

function ipMeaning(text: string, words: AddressMeaning): { value: string; meaning: string } {
  const unspecified = text === '0.0.0.0' || text === '::';
  return { value: text, meaning: unspecified ? `${words.address} (unspecified: ${text})` : words.address };
}

/**
 * Bytes of ATYP + ADDR + PORT for a host (IP literal or name) and port, or a coded error (ERR_SOCKS_BAD_PORT,
 * ERR_SOCKS_BAD_HOSTNAME for a name that is not 1-255 bytes of visible ASCII: " 127.0.0.1", full-width digits,
 * non-ASCII names). Never throws.
 */
export function encodeSocks5Address(host: string, port: number): EncodeResult {
  const problem = socks5AddressError(host, port);
  if (problem) return { status: 'error', error: problem };
  const bare = stripBrackets(host);
  const kind = hostKind(bare);
  let head: Uint8Array;
  if (kind === 'ipv4') {
    head = new Uint8Array(5);
    head[0] = AddressType.IPV4;
    head.set(parseIPv4(bare)!, 1);
  } else if (kind === 'ipv6') {
    head = new Uint8Array(17);
    head[0] = AddressType.IPV6;
    head.set(parseIPv6(bare)!, 1);
  } else {
    head = new Uint8Array(2 + host.length);
    head[0] = AddressType.DOMAIN;
    head[1] = host.length;
    head.set(asciiBytes(host), 2);
  }
  const out = new Uint8Array(head.length + 2);
  out.set(head);
  out[head.length] = port >> 8;
  out[head.length + 1] = port & 0xff;
  return { status: 'done', bytes: out };
}

/** Why a host and port cannot travel as a SOCKS5 address, or undefined when they can. */
export function socks5AddressError(host: string, port: number): SocksError | undefined {
  if (!isValidPort(port)) return new SocksError(SocksErrorCode.BAD_PORT, `port out of range: ${port}`);
  if (typeof host !== 'string') return new SocksError(SocksErrorCode.BAD_HOSTNAME, 'host is not a string');
  if (hostKind(stripBrackets(host)) !== 'domain' || isValidHostname(host)) return undefined;
  return new SocksError(SocksErrorCode.BAD_HOSTNAME, `not a host name SOCKS can carry: ${JSON.stringify(host.slice(0, 300))}`);
}

function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

export function checkPort(port: number): void {
  if (!isValidPort(port)) {
    throw new SocksError(SocksErrorCode.BAD_PORT, `port out of range: ${port}`);
  }
}

export function hex2(value: number): string {
  return value.toString(16).padStart(2, '0');
}

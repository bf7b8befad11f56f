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

export function readSocks5Address(r: Reader, role: AddressRole): SocksAddress {
  const label = role === 'dst' ? 'DST' : 'BND';
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
    host = formatIPv4(r.take(`socks.${role}`, `${label}.ADDR`, 4, (b) => ipMeaning(formatIPv4(b), role)));
  } else if (atyp === AddressType.IPV6) {
    host = formatIPv6(r.take(`socks.${role}V6`, `${label}.ADDR`, 16, (b) => ipMeaning(formatIPv6(b), role)));
  } else {
    const length = r.u8('socks.remote_name_length', `${label}.ADDR length`, (value, offset) => {
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
        return { value: name, meaning: role === 'dst' ? 'name the server resolves' : 'bound host name' };
      }),
    );
  }
  const port = r.u16(`socks.${role}port`, `${label}.PORT`, (value) =>
    role === 'dst' ? `port ${value}` : value === 0 ? 'port 0 (unspecified)' : `port ${value}`,
  );
  return { addressType: atyp, host, port };
}

function ipMeaning(text: string, role: AddressRole): { value: string; meaning: string } {
  const unspecified = text === '0.0.0.0' || text === '::';
  const meaning =
    role === 'dst' ? (unspecified ? 'unspecified address' : 'destination address') : 'address the server bound';
  return { value: text, meaning };
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

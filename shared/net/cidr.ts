/** CIDR blocks over IPv4 and IPv6, used by access rules and target policy. IPv4-mapped IPv6 counts as IPv4. */
import { parseIPv4, parseIPv6, stripBrackets } from '../socks/address.ts';

export interface Cidr {
  /** 4 or 16 bytes. */
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

/** Parses "10.0.0.0/8", "::1/128" or a bare address (a /32 or /128); null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  let bytes = parseIp(addr);
  if (!bytes) return null;
  let prefix = bytes.length * 8;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    prefix = Number(p);
    // An IPv4-mapped block ("::ffff:0:0/96") is the IPv4 block it maps; one wider than /96 stays IPv6.
    if (bytes.length === 4 && addr.includes(':')) {
      if (prefix >= 96) prefix -= 96;
      else bytes = parseIPv6(stripBrackets(addr));
    }
    if (!bytes || prefix > bytes.length * 8) return null;
  }
  return { bytes, prefix, text };
}

/**
 * Parses an IP literal into 4 bytes (IPv4, including IPv4-mapped IPv6 such as ::ffff:127.0.0.1) or 16 bytes.
 * Brackets are allowed around IPv6.
 */
export function parseIp(text: string): Uint8Array | null {
  const v4 = parseIPv4(text);
  if (v4) return v4;
  const v6 = parseIPv6(stripBrackets(text));
  if (!v6) return null;
  return isMappedIPv4(v6) ? v6.slice(12) : v6;
}

function isMappedIPv4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (iana-ipv4-special-registry, iana-ipv6-special-registry,
 * as of 2025), plus the multicast blocks and the IPv6 forms that embed an IPv4 address. This file is the one source
 * of the blocks the bridge denies by default; docs/security.md's table is checked against it by a test.
 */
import { parseIPv4, parseIPv6 } from '../socks/address.ts';
import { cidrContains, type Cidr } from './cidr.ts';

export interface SpecialBlock {
  cidr: Cidr;
  name: string;
  /** The RFC(s) that define it. */
  rfc: string;
  /** The registry's "Globally Reachable" column; 'n/a' where it says N/A (deprecated or special). */
  global: boolean | 'n/a';
}

/** Parsed as written: unlike parseCidr, an IPv4-mapped block stays IPv6. */
function row(text: string, name: string, rfc: string, global: boolean | 'n/a'): SpecialBlock {
  const [addr, prefix] = text.split('/') as [string, string];
  const bytes = parseIPv4(addr) ?? parseIPv6(addr);
  if (!bytes) throw new Error(`bad table row ${text}`);
  return { cidr: { bytes, prefix: Number(prefix), text }, name, rfc, global };
}

/** Every row; a block is denied by default unless `global` is true. */
export const SPECIAL_PURPOSE_BLOCKS: readonly SpecialBlock[] = [
  row('0.0.0.0/8', '"This network"', 'RFC 791', false),
  row('0.0.0.0/32', '"This host on this network"', 'RFC 1122', false),
  row('10.0.0.0/8', 'Private-Use', 'RFC 1918', false),
  row('100.64.0.0/10', 'Shared Address Space', 'RFC 6598', false),
  row('127.0.0.0/8', 'Loopback', 'RFC 1122', false),
  row('169.254.0.0/16', 'Link Local', 'RFC 3927', false),
  row('172.16.0.0/12', 'Private-Use', 'RFC 1918', false),
  row('192.0.0.0/24', 'IETF Protocol Assignments', 'RFC 6890', false),
  row('192.0.0.0/29', 'IPv4 Service Continuity Prefix', 'RFC 7335', false),
  row('192.0.0.8/32', 'IPv4 dummy address', 'RFC 7600', false),
  row('192.0.0.9/32', 'Port Control Protocol Anycast', 'RFC 7723', true),
  row('192.0.0.10/32', 'Traversal Using Relays around NAT Anycast', 'RFC 8155', true),
  row('192.0.0.170/32', 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050', false),
  row('192.0.0.171/32', 'NAT64/DNS64 Discovery', 'RFC 8880, RFC 7050', false),
  row('192.0.2.0/24', 'Documentation (TEST-NET-1)', 'RFC 5737', false),
  row('192.31.196.0/24', 'AS112-v4', 'RFC 7535', true),
  row('192.52.193.0/24', 'AMT', 'RFC 7450', true),
  row('192.88.99.0/24', 'Deprecated (6to4 Relay Anycast)', 'RFC 7526', 'n/a'),
  row('192.168.0.0/16', 'Private-Use', 'RFC 1918', false),
  row('192.175.48.0/24', 'Direct Delegation AS112 Service', 'RFC 7534', true),
  row('198.18.0.0/15', 'Benchmarking', 'RFC 2544', false),
  row('198.51.100.0/24', 'Documentation (TEST-NET-2)', 'RFC 5737', false),
  row('203.0.113.0/24', 'Documentation (TEST-NET-3)', 'RFC 5737', false),
  row('224.0.0.0/4', 'Multicast (IANA multicast registry, not special-purpose)', 'RFC 5771', false),
  row('240.0.0.0/4', 'Reserved', 'RFC 1112', false),
  row('255.255.255.255/32', 'Limited Broadcast', 'RFC 8190, RFC 919', false),
  row('::1/128', 'Loopback Address', 'RFC 4291', false),
  row('::/128', 'Unspecified Address', 'RFC 4291', false),
  row('::/96', 'IPv4-Compatible (deprecated; not in the registry)', 'RFC 4291', false),
  row('::ffff:0:0/96', 'IPv4-mapped Address', 'RFC 4291', false),
  row('::ffff:0:0:0/96', 'IPv4-translated (SIIT; not in the registry)', 'RFC 2765', false),
  row('64:ff9b::/96', 'IPv4-IPv6 Translat.', 'RFC 6052', true),
  row('64:ff9b:1::/48', 'IPv4-IPv6 Translat. (local use)', 'RFC 8215', false),
  row('100::/64', 'Discard-Only Address Block', 'RFC 6666', false),
  row('100:0:0:1::/64', 'Dummy IPv6 Prefix', 'RFC 9780', false),
  row('2001::/23', 'IETF Protocol Assignments', 'RFC 2928', false),
  row('2001::/32', 'TEREDO', 'RFC 4380, RFC 8190', 'n/a'),
  row('2001:1::1/128', 'Port Control Protocol Anycast', 'RFC 7723', true),
  row('2001:1::2/128', 'Traversal Using Relays around NAT Anycast', 'RFC 8155', true),
  row('2001:1::3/128', 'DNS-SD Service Registration Protocol Anycast', 'RFC 9665', true),
  row('2001:2::/48', 'Benchmarking', 'RFC 5180', false),
  row('2001:3::/32', 'AMT', 'RFC 7450', true),
  row('2001:4:112::/48', 'AS112-v6', 'RFC 7535', true),
  row('2001:10::/28', 'Deprecated (previously ORCHID)', 'RFC 4843', 'n/a'),
  row('2001:20::/28', 'ORCHIDv2', 'RFC 7343', true),
  row('2001:30::/28', 'Drone Remote ID Protocol Entity Tags (DETs) Prefix', 'RFC 9374', true),
  row('2001:db8::/32', 'Documentation', 'RFC 3849', false),
  row('2002::/16', '6to4', 'RFC 3056', 'n/a'),
  row('2620:4f:8000::/48', 'Direct Delegation AS112 Service', 'RFC 7534', true),
  row('3fff::/20', 'Documentation', 'RFC 9637', false),
  row('5f00::/16', 'Segment Routing (SRv6) SIDs', 'RFC 9602', false),
  row('fc00::/7', 'Unique-Local', 'RFC 4193, RFC 8190', false),
  row('fe80::/10', 'Link-Local Unicast', 'RFC 4291', false),
  row('ff00::/8', 'Multicast (IANA multicast registry, not special-purpose)', 'RFC 4291', false),
];

/**
 * The first block that is not globally reachable and contains `ip` (4 or 16 bytes); undefined when none does.
 * A globally reachable row inside a non-global one (192.0.0.9 in 192.0.0.0/24) is still denied: the stricter
 * reading is the safe one for a relay.
 */
export function nonGlobalBlock(ip: Uint8Array): SpecialBlock | undefined {
  return SPECIAL_PURPOSE_BLOCKS.find((b) => b.global !== true && cidrContains(b.cidr, ip));
}

/** An IPv4 address found inside an IPv6 one, and the form that carried it. */
export interface EmbeddedIPv4 {
  form: 'mapped' | 'compatible' | 'siit' | 'nat64' | 'nat64-local' | '6to4' | 'teredo-server' | 'teredo-client';
  ipv4: Uint8Array;
}

const zeros = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/** Every IPv4 address the IPv6 address `b` (16 bytes) embeds, by the forms that put one inside. */
export function embeddedIPv4(b: Uint8Array): EmbeddedIPv4[] {
  const out: EmbeddedIPv4[] = [];
  const at = (form: EmbeddedIPv4['form'], ...idx: number[]) => out.push({ form, ipv4: Uint8Array.from(idx.map((i) => b[i]!)) });
  const w = (i: number) => (b[i]! << 8) | b[i + 1]!;
  if (zeros(b, 0, 10) && w(10) === 0xffff) at('mapped', 12, 13, 14, 15);
  // IPv4-compatible ::a.b.c.d; :: and ::1 are the unspecified and loopback addresses, not 0.0.0.0/0.0.0.1.
  if (zeros(b, 0, 12) && !(zeros(b, 12, 15) && b[15]! <= 1)) at('compatible', 12, 13, 14, 15);
  if (zeros(b, 0, 8) && w(8) === 0xffff && w(10) === 0) at('siit', 12, 13, 14, 15);
  if (w(0) === 0x64 && w(2) === 0xff9b && zeros(b, 4, 12)) at('nat64', 12, 13, 14, 15);
  if (w(0) === 0x64 && w(2) === 0xff9b && w(4) === 1) {
    at('nat64-local', 6, 7, 9, 10); // RFC 6052 /48 layout (bits 64-71 are the u octet)
    at('nat64-local', 12, 13, 14, 15); // a /96 taken from the /48
  }
  if (w(0) === 0x2002) at('6to4', 2, 3, 4, 5);
  if (w(0) === 0x2001 && w(2) === 0) {
    at('teredo-server', 4, 5, 6, 7);
    out.push({ form: 'teredo-client', ipv4: Uint8Array.from([12, 13, 14, 15].map((i) => b[i]! ^ 0xff)) });
  }
  return out;
}

const LOOPBACK_V4 = Uint8Array.of(127, 0, 0, 1);
const LOOPBACK_V6 = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

/**
 * Every address a rule must judge for `ip` (4 or 16 bytes): the address itself, each IPv4 address it embeds, and
 * for an unspecified address (0.0.0.0, ::, which reach the local host when dialed) the loopback address.
 * A target is allowed only when every one of them is.
 */
export function judgedAddresses(ip: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [ip];
  const embedded = ip.length === 16 ? embeddedIPv4(ip).map((e) => e.ipv4) : [];
  out.push(...embedded);
  for (const a of [ip, ...embedded]) {
    if (a.every((x) => x === 0)) out.push(a.length === 4 ? LOOPBACK_V4 : LOOPBACK_V6);
  }
  return out;
}

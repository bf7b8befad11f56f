/**
 * The bridge's target policy: which addresses and names a browser may reach. Loopback, private, link-local,
 * unique-local, multicast, reserved and unspecified addresses (and their IPv4-mapped IPv6 forms) are denied unless
 * an allow entry names them; deny entries always win. Addresses are checked after DNS resolution, and the bridge
 * connects to the address that was checked.
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from '../../shared/net/cidr.ts';
import { hostPatternMatches } from '../../shared/net/host-pattern.ts';
import { inAnyPortRange } from '../../shared/net/ports.ts';
import type { PolicyEntry } from './config.ts';

/** Blocks a public relay must not reach by default. */
export const NON_PUBLIC_BLOCKS: readonly Cidr[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
  '64:ff9b:1::/48',
  '2001:db8::/32',
].map((t) => parseCidr(t)!);

export type Verdict = { allow: true; reason: string } | { allow: false; reason: string };

export class TargetPolicy {
  constructor(private readonly config: { allow: PolicyEntry[]; deny: PolicyEntry[] }) {}

  /** A resolved address the bridge is about to connect to, and the name it came from (if any). */
  checkAddress(address: string, port: number, name?: string): Verdict {
    const ip = parseIp(address);
    if (!ip) return { allow: false, reason: `not an IP address: ${address}` };
    const matches = (e: PolicyEntry) =>
      (e.ports === undefined || inAnyPortRange(e.ports, port)) &&
      (e.cidr ? cidrContains(e.cidr, ip) : e.host ? name !== undefined && hostPatternMatches(e.host, name) : true);
    const denied = this.config.deny.findIndex(matches);
    if (denied !== -1) return { allow: false, reason: `denied by policy.deny[${denied}]` };
    const allowed = this.config.allow.findIndex(matches);
    if (allowed !== -1) return { allow: true, reason: `allowed by policy.allow[${allowed}]` };
    const blocked = NON_PUBLIC_BLOCKS.find((b) => cidrContains(b, ip));
    if (blocked) return { allow: false, reason: `${address} is in ${blocked.text}, which is not public` };
    return { allow: true, reason: 'public address' };
  }

  /**
   * A target reached through a chain: the bridge does not see the address it resolves to, so host patterns, port
   * ranges and literal addresses are checked against what the client asked for. Deny entries apply; an IP literal
   * in a non-public block is still denied unless allowed.
   */
  checkThroughChain(host: string, port: number): Verdict {
    const ip = parseIp(host);
    if (ip) return this.checkAddress(host, port);
    const matches = (e: PolicyEntry) =>
      (e.ports === undefined || inAnyPortRange(e.ports, port)) &&
      (e.host ? hostPatternMatches(e.host, host) : e.cidr === undefined);
    const denied = this.config.deny.findIndex(matches);
    if (denied !== -1) return { allow: false, reason: `denied by policy.deny[${denied}]` };
    return { allow: true, reason: 'name passed to the proxy' };
  }
}

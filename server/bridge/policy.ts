/**
 * The bridge's target policy: which addresses and names a browser may reach. Every block of the IANA
 * special-purpose registries that is not globally reachable (shared/net/special-purpose.ts) is denied unless an
 * allow entry names it; deny entries always win. An address is judged together with every IPv4 address it embeds
 * (NAT64, 6to4, Teredo, IPv4-compatible, SIIT, mapped) and, when unspecified (0.0.0.0, ::), as loopback: it is
 * allowed only when each of them is. Hosts reach this module in canonical form (shared/net/canonical-target.ts).
 */
import { cidrContains, parseIp } from '../../shared/net/cidr.ts';
import { hostPatternMatches } from '../../shared/net/host-pattern.ts';
import { inAnyPortRange } from '../../shared/net/ports.ts';
import { judgedAddresses, nonGlobalBlock } from '../../shared/net/special-purpose.ts';
import { formatIPv4, formatIPv6 } from '../../shared/socks/address.ts';
import type { PolicyEntry } from './config.ts';

export type Verdict = { allow: true; reason: string } | { allow: false; reason: string };

const formatIp = (b: Uint8Array) => (b.length === 4 ? formatIPv4(b) : formatIPv6(b));

export class TargetPolicy {
  constructor(private readonly config: { allow: PolicyEntry[]; deny: PolicyEntry[] }) {}

  /** A resolved (or literal) address the bridge is about to connect to, and the name it came from (if any). */
  checkAddress(address: string, port: number, name?: string): Verdict {
    const ip = parseIp(address);
    if (!ip) return { allow: false, reason: `not an IP address: ${address}` };
    const matches = (a: Uint8Array) => (e: PolicyEntry) =>
      (e.ports === undefined || inAnyPortRange(e.ports, port)) &&
      (e.cidr ? cidrContains(e.cidr, a) : e.host ? name !== undefined && hostPatternMatches(e.host, name) : true);
    const judged = judgedAddresses(ip);
    for (const a of judged) {
      const denied = this.config.deny.findIndex(matches(a));
      if (denied !== -1) return { allow: false, reason: `denied by policy.deny[${denied}]${a === ip ? '' : ` (as ${formatIp(a)})`}` };
    }
    let reason = 'public address';
    for (const a of judged) {
      const allowed = this.config.allow.findIndex(matches(a));
      if (allowed !== -1) {
        reason = `allowed by policy.allow[${allowed}]`;
        continue;
      }
      const blocked = nonGlobalBlock(a);
      if (blocked) {
        const as = a === ip ? '' : `, as ${formatIp(a)}`;
        return { allow: false, reason: `${address}${as} is in ${blocked.cidr.text} (${blocked.name}, ${blocked.rfc}), which is not globally reachable` };
      }
    }
    return { allow: true, reason };
  }

  /**
   * A name passed to a proxy that is the policy boundary (a route marked `names: "proxy"`): the bridge does not
   * see the address it resolves to, so host patterns and port ranges are checked against the name. IP literals
   * never come here (they are judged by checkAddress).
   */
  checkNameOnly(host: string, port: number): Verdict {
    const matches = (e: PolicyEntry) =>
      (e.ports === undefined || inAnyPortRange(e.ports, port)) &&
      (e.host ? hostPatternMatches(e.host, host) : e.cidr === undefined);
    const denied = this.config.deny.findIndex(matches);
    if (denied !== -1) return { allow: false, reason: `denied by policy.deny[${denied}]` };
    return { allow: true, reason: 'name passed to the proxy, which is the policy boundary for this route' };
  }
}

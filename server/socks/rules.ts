/**
 * Access rules for the SOCKS server: allow or deny by client address, user, command, destination and port. The
 * first rule that matches decides; when rules are configured and none matches, the request is denied.
 *
 * Rules file: one rule a line, `#` starts a comment. A line is `allow` or `deny` followed by any of
 * `from CIDR[,CIDR]`, `user NAME[,NAME]`, `command connect|bind|udp[,...]`, `to CIDR|PATTERN[,...]`,
 * `port RANGE[,RANGE]`. Example: `allow from 127.0.0.0/8 command connect to *.example.com,10.0.0.0/8 port 80,443`.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { cidrContains, parseIp } from '../../shared/net/cidr.ts';
import { hostPatternMatches } from '../../shared/net/host-pattern.ts';
import { inAnyPortRange } from '../../shared/net/ports.ts';
import { judgedAddresses } from '../../shared/net/special-purpose.ts';
import { formatIPv4, formatIPv6 } from '../../shared/socks/address.ts';
import { CidrSchema, DestinationSchema, formatZodError, PortRangeSchema } from '../../shared/config/net-schemas.ts';

export const RuleCommandSchema = z.enum(['connect', 'bind', 'udp']);
export type RuleCommand = z.infer<typeof RuleCommandSchema>;

/** One rule; the input shape is what a rules file line or a programmatic caller gives. */
export const RuleSchema = z
  .object({
    action: z.enum(['allow', 'deny']),
    from: z.array(CidrSchema).min(1).optional(),
    user: z.array(z.string().min(1)).min(1).optional(),
    command: z.array(RuleCommandSchema).min(1).optional(),
    to: z.array(DestinationSchema).min(1).optional(),
    port: z.array(PortRangeSchema).min(1).optional(),
  })
  .strict();
export type RuleInput = z.input<typeof RuleSchema>;
export type Rule = z.output<typeof RuleSchema>;

/** What a rule is matched against. `address` is the resolved IP when the request named a host. */
export interface RuleQuery {
  client: string;
  user: string | undefined;
  command: RuleCommand;
  /** The host name the client asked for, if it asked by name. */
  name?: string | undefined;
  /** The IP that will be used; absent when not known (UDP ASSOCIATE before any datagram). */
  address?: string | undefined;
  port?: number | undefined;
}

export class RulesFileError extends Error {
  override readonly name = 'RulesFileError';
  readonly code = 'ERR_RULES_INVALID';
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

const KEYWORDS = new Set(['from', 'user', 'command', 'to', 'port']);

/**
 * Parses rules text into rule inputs (as the server options take them), validated line by line; throws
 * RulesFileError naming the line and the reason.
 */
export function parseRules(text: string, file = 'rules'): RuleInput[] {
  const rules: RuleInput[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const fail = (reason: string) => new RulesFileError(file, index + 1, reason);
    const words = line.split(/\s+/);
    const input: Record<string, unknown> = { action: words[0] };
    for (let i = 1; i < words.length; i += 2) {
      const key = words[i]!;
      if (!KEYWORDS.has(key)) throw fail(`unknown keyword ${JSON.stringify(key)} (expected from, user, command, to, port)`);
      if (key in input) throw fail(`${key} given twice`);
      const value = words[i + 1];
      if (value === undefined) throw fail(`${key} needs a value`);
      input[key] = value.split(',');
    }
    const parsed = RuleSchema.safeParse(input);
    if (!parsed.success) throw fail(formatZodError(parsed.error).replace(/\n/g, '; '));
    rules.push(input as RuleInput);
  });
  return rules;
}

export async function loadRulesFile(path: string): Promise<RuleInput[]> {
  return parseRules(await readFile(path, 'utf8'), path);
}

export function ruleMatches(rule: Rule, q: RuleQuery): boolean {
  if (rule.from) {
    const ip = parseIp(q.client);
    if (!ip || !rule.from.some((c) => cidrContains(c, ip))) return false;
  }
  if (rule.user && (q.user === undefined || !rule.user.includes(q.user))) return false;
  if (rule.command && !rule.command.includes(q.command)) return false;
  if (rule.to) {
    const ip = q.address === undefined ? null : parseIp(q.address);
    const hit = rule.to.some((d) =>
      'cidr' in d ? ip !== null && cidrContains(d.cidr, ip) : q.name !== undefined && hostPatternMatches(d.pattern, q.name),
    );
    if (!hit) return false;
  }
  if (rule.port && (q.port === undefined || !inAnyPortRange(rule.port, q.port))) return false;
  return true;
}

/**
 * Decides a request: with no rules everything is allowed; otherwise the first matching rule, else deny.
 * Returns the deciding rule's index (or -1) so that a denial can be explained. An address is judged as every
 * address it means (shared/net/special-purpose.ts judgedAddresses: itself, each IPv4 address it embeds, and
 * loopback for 0.0.0.0 and ::, which reach the local host); it is allowed only when each of them is.
 */
export function evaluateRules(rules: readonly Rule[] | undefined, q: RuleQuery): { allow: boolean; rule: number } {
  if (!rules) return { allow: true, rule: -1 };
  const ip = q.address === undefined ? null : parseIp(q.address);
  const forms = ip ? judgedAddresses(ip).map((a) => (a.length === 4 ? formatIPv4(a) : formatIPv6(a))) : [q.address];
  let verdict = { allow: false, rule: -1 };
  for (const address of forms) {
    const index = rules.findIndex((r) => ruleMatches(r, { ...q, address }));
    verdict = { allow: index !== -1 && rules[index]!.action === 'allow', rule: index };
    if (!verdict.allow) return verdict;
  }
  return verdict;
}

/**
 * Decides a request by name before resolving it, where the rules allow that: a name denied by a host pattern is
 * refused without a DNS query. Returns 'unknown' as soon as a rule would need the resolved address.
 */
export function evaluateBeforeResolving(rules: readonly Rule[] | undefined, q: RuleQuery): 'allow' | 'deny' | 'unknown' {
  if (!rules) return 'allow';
  for (const rule of rules) {
    const byName = rule.to?.some((d) => 'pattern' in d && q.name !== undefined && hostPatternMatches(d.pattern, q.name));
    const needsAddress = rule.to !== undefined && !byName && rule.to.some((d) => 'cidr' in d);
    if (!ruleMatches({ ...rule, to: undefined }, q)) continue;
    if (rule.to !== undefined && !byName) {
      if (needsAddress) return 'unknown';
      continue;
    }
    return rule.action;
  }
  return 'deny';
}

/**
 * Decides a UDP ASSOCIATE before any datagram names a destination: a rule that constrains destination or port
 * allows the association if it is an allow rule (each datagram is then checked in full) and is passed over if it
 * is a deny rule (it will deny the datagrams it matches).
 */
export function evaluateAssociation(rules: readonly Rule[] | undefined, q: RuleQuery): { allow: boolean; rule: number } {
  if (!rules) return { allow: true, rule: -1 };
  const index = rules.findIndex((r) => {
    const perDatagram = r.to !== undefined || r.port !== undefined;
    if (perDatagram && r.action === 'deny') return false;
    return ruleMatches({ ...r, to: undefined, port: undefined }, q);
  });
  return { allow: index !== -1 && rules[index]!.action === 'allow', rule: index };
}

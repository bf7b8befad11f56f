/** zod schemas for the network values that configs and rules share: CIDR blocks, host patterns, port ranges. */
import { z } from 'zod';
import { parseCidr, type Cidr } from '../net/cidr.ts';
import { parseHostPattern, type HostPattern } from '../net/host-pattern.ts';
import { parsePortRange, type PortRange } from '../net/ports.ts';

export const CidrSchema = z.string().transform((text, ctx): Cidr => {
  const cidr = parseCidr(text);
  if (!cidr) {
    ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR block: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return cidr;
});

export const HostPatternSchema = z.string().transform((text, ctx): HostPattern => {
  const pattern = parseHostPattern(text);
  if (!pattern) {
    ctx.addIssue({ code: 'custom', message: `not a host name pattern: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return pattern;
});

/** A destination: a CIDR block when it parses as one, else a host name pattern. */
export const DestinationSchema = z.string().transform((text, ctx): { cidr: Cidr } | { pattern: HostPattern } => {
  const cidr = parseCidr(text);
  if (cidr) return { cidr };
  const pattern = parseHostPattern(text);
  if (pattern) return { pattern };
  ctx.addIssue({ code: 'custom', message: `not a CIDR block or host name pattern: ${JSON.stringify(text)}` });
  return z.NEVER;
});

/** "443", "1-1023", or a number. */
export const PortRangeSchema = z.union([z.string(), z.number().int()]).transform((value, ctx): PortRange => {
  const range = parsePortRange(String(value));
  if (!range) {
    ctx.addIssue({ code: 'custom', message: `not a port or port range (0-65535): ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return range;
});

/** "host:port" with IPv6 in brackets, e.g. "127.0.0.1:1080" or "[::1]:1080". */
export const ListenSchema = z.string().transform((text, ctx): { host: string; port: number } => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT (IPv6 in brackets), got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return { host: (m[1] ?? m[2])!, port };
});

/** Turns a zod error into one line per problem: "field.path: message". */
export function formatZodError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`).join('\n');
}

/**
 * Who the client is, behind trusted proxies: a peer in `trustedProxies` speaks for the client with a PROXY protocol
 * header (read by proxied-connections.ts) or, over HTTP, with `Forwarded` (RFC 7239) or `X-Forwarded-For`. The
 * client is the rightmost address in the chain that is not itself a trusted proxy (the leftmost ones could be made
 * up by the client). Other peers are their own client address, whatever headers they send.
 */
import type { IncomingMessage } from 'node:http';
import { cidrContains, parseIp, type Cidr } from '../../shared/net/cidr.ts';
import { formatIPv4, formatIPv6 } from '../../shared/socks/address.ts';

export type ClientAddress = { ok: true; address: string; via: string | undefined } | { ok: false; message: string };

/** Canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or undefined when `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  const bytes = parseIp(text);
  if (!bytes) return undefined;
  return bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}

export function isTrustedProxy(trusted: readonly Cidr[], address: string): boolean {
  const bytes = parseIp(address);
  return bytes !== null && trusted.some((c) => cidrContains(c, bytes));
}

/** The `for=` nodes of every `Forwarded` element, in order; a node is an IP (no port, no brackets) or what was written. */
export function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of splitOutsideQuotes(header, ',')) {
    for (const pair of splitOutsideQuotes(element, ';')) {
      const eq = pair.indexOf('=');
      if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let value = pair.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
      out.push(stripPort(value));
    }
  }
  return out;
}

/** `X-Forwarded-For: client, proxy1, proxy2`. */
export function xForwardedFor(header: string): string[] {
  return header.split(',').map((v) => stripPort(v.trim())).filter((v) => v !== '');
}

/**
 * The client's address for a request whose TCP peer is `peer` (already the PROXY header's source, if one was sent).
 * From a trusted peer: `Forwarded` if present, else `X-Forwarded-For`, else the PROXY header's source must have
 * been given (`proxied`); otherwise the request is refused.
 */
export function clientAddress(req: IncomingMessage, peer: string, trusted: readonly Cidr[], proxied: boolean): ClientAddress {
  if (trusted.length === 0 || !isTrustedProxy(trusted, peer)) return { ok: true, address: peer, via: undefined };
  const header = (name: string) => {
    const v = req.headers[name];
    return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
  };
  const fwd = header('forwarded');
  const xff = header('x-forwarded-for');
  const chain = fwd !== undefined ? forwardedFor(fwd) : xff !== undefined ? xForwardedFor(xff) : undefined;
  if (chain === undefined || chain.length === 0) {
    if (proxied) return { ok: true, address: peer, via: undefined };
    return { ok: false, message: `a trusted proxy (${peer}) must send Forwarded, X-Forwarded-For or a PROXY protocol header` };
  }
  for (let i = chain.length - 1; i >= 0; i--) {
    const ip = canonicalIp(chain[i]!);
    if (ip === undefined) return { ok: false, message: `the trusted proxy ${peer} forwarded a client that is not an IP address` };
    if (i === 0 || !isTrustedProxy(trusted, ip)) return { ok: true, address: ip, via: peer };
  }
  return { ok: false, message: 'unreachable' };
}

function stripPort(value: string): string {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end === -1 ? value : value.slice(1, end);
  }
  // "192.0.2.1:4711"; a bare IPv6 address has more than one colon and no port.
  const colons = value.split(':').length - 1;
  return colons === 1 ? value.slice(0, value.indexOf(':')) : value;
}

function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted) {
      cur += c + (text[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (c === sep && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

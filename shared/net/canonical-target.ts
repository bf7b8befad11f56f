/**
 * The one canonical form of a target host, computed before any rule, transcript or log sees it. The bridge, the
 * client library and the SOCKS server all call `canonicalTarget`:
 *
 * - control characters (C0, DEL, C1, NUL), whitespace, '%' and URL delimiters are refused;
 * - IPv6 literals (brackets optional) become RFC 5952 text; zone ids ("fe80::1%eth0") are refused;
 * - everything else goes through the WHATWG URL host parser (the same in Node and browsers): Unicode names are
 *   mapped to ASCII by IDNA UTS #46 (full-width letters, the ideographic full stop, upper case) and every numeric
 *   IPv4 spelling the resolver accepts (127.1, 0x7f.1, 017700000001, 2130706433, a trailing dot) becomes the
 *   dotted quad it means;
 * - a name must then be 1-253 bytes of labels of 1-63 letters, digits, '-' or '_'; one trailing dot is dropped.
 */
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../socks/address.ts';
import { WsocksError, WsocksErrorCode } from '../protocol/errors.ts';

// The global WHATWG URL class (Node >= 10, every browser). shared/ has neither DOM nor Node types, so it is
// declared here with the one member used.
declare const URL: new (url: string) => { readonly hostname: string };

export type CanonicalTarget =
  | { kind: 'ipv4'; host: string; bytes: Uint8Array }
  | { kind: 'ipv6'; host: string; bytes: Uint8Array }
  | { kind: 'domain'; host: string };

/** Why a target was refused; stable strings, part of the ERR_BAD_TARGET message. */
export type BadTargetReason =
  | 'empty'
  | 'control-character'
  | 'whitespace'
  | 'forbidden-character'
  | 'zone-id'
  | 'bad-ip-literal'
  | 'bad-name'
  | 'empty-label'
  | 'label-too-long'
  | 'name-too-long';

export type CanonicalResult = { ok: true; target: CanonicalTarget } | { ok: false; reason: BadTargetReason; message: string };

/** Longer input is refused before any parsing (a name is at most 253 bytes; an IPv6 literal 47 with brackets). */
const MAX_INPUT = 1024;

const bad = (reason: BadTargetReason, host: string, what: string): CanonicalResult => ({
  ok: false,
  reason,
  message: `bad target ${JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host)}: ${what} (${reason})`,
});

/** Turns a target host as received into its canonical form, or says why it is refused. */
export function canonicalTarget(host: string): CanonicalResult {
  if (host.length === 0) return bad('empty', host, 'empty host');
  if (host.length > MAX_INPUT) return bad('name-too-long', host, `longer than ${MAX_INPUT} characters`);
  // The common case first: a dotted quad already in canonical form (no leading zeros) is itself, without the URL
  // parser (the costliest step of a SOCKS CONNECT to an IPv4 address).
  const code = host.charCodeAt(0);
  if (code >= 0x30 && code <= 0x39) {
    const quad = parseIPv4(host);
    if (quad) return { ok: true, target: { kind: 'ipv4', host, bytes: quad } };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(host)) return bad('control-character', host, 'contains a control character or NUL');
  if (/[\s\u200b\ufeff]/u.test(host)) return bad('whitespace', host, 'contains whitespace');
  if (host.includes('%')) {
    return host.includes(':') ? bad('zone-id', host, 'IPv6 zone ids are refused') : bad('forbidden-character', host, "contains '%'");
  }
  const bracketed = host.startsWith('[') && host.endsWith(']');
  if (bracketed || host.includes(':')) {
    const bytes = parseIPv6(bracketed ? host.slice(1, -1) : host);
    if (!bytes) return bad('bad-ip-literal', host, 'not an IPv6 address');
    return { ok: true, target: { kind: 'ipv6', host: formatIPv6(bytes), bytes } };
  }
  if (/[/?#@\\[\]<>^|"`{}]/.test(host)) return bad('forbidden-character', host, 'contains a character no host name has');
  let mapped: string;
  try {
    mapped = new URL(`http://${host}/`).hostname;
  } catch {
    return bad('bad-name', host, 'not a host name or IPv4 address (IDNA or IPv4 number parsing failed)');
  }
  const v4 = parseIPv4(mapped);
  if (v4) return { ok: true, target: { kind: 'ipv4', host: formatIPv4(v4), bytes: v4 } };
  const name = mapped.endsWith('.') ? mapped.slice(0, -1) : mapped;
  if (name.length === 0) return bad('empty-label', host, 'no labels');
  if (name.length > 253) return bad('name-too-long', host, `${name.length} bytes; at most 253`);
  for (const label of name.split('.')) {
    if (label.length === 0) return bad('empty-label', host, 'an empty label');
    if (label.length > 63) return bad('label-too-long', host, `a label of ${label.length} bytes; at most 63`);
    if (!/^[a-z0-9_-]+$/.test(label)) return bad('forbidden-character', host, `label ${JSON.stringify(label)} has a character other than a-z 0-9 - _`);
  }
  return { ok: true, target: { kind: 'domain', host: name } };
}

/** canonicalTarget for callers that throw: a WsocksError ERR_BAD_TARGET naming the reason. */
export function requireCanonicalTarget(host: string): CanonicalTarget {
  const r = canonicalTarget(host);
  if (!r.ok) throw new WsocksError(WsocksErrorCode.BAD_TARGET, r.message);
  return r.target;
}

/** A host for logs: its canonical form, or the raw text quoted (escapes, at most 80 characters) when it is none. */
export function hostForLog(host: string): string {
  const r = canonicalTarget(host);
  return r.ok ? r.target.host : JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host);
}

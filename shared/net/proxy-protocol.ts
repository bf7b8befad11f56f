/**
 * The PROXY protocol header (HAProxy, v1 text and v2 binary: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt),
 * parsed sans-I/O: feed bytes as they arrive, in any chunks, until it says `done`; the bytes after the header belong
 * to the connection. Bounded: v1 is at most 107 bytes, v2 at most 16 + MAX_V2_PAYLOAD. Bad input is a
 * ProxyProtocolError with a stable code.
 */
import { CodedError } from '../errors/coded-error.ts';
import { concatBytes, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../socks/address.ts';

export const ProxyProtocolErrorCode = {
  /** The connection does not start with a PROXY header (v1 "PROXY " or the v2 signature). */
  MISSING: 'ERR_PROXY_HEADER_MISSING',
  /** A header that breaks the spec: bad version, command, family, address, port or line. */
  BAD: 'ERR_PROXY_HEADER_BAD',
  /** Longer than the bound (v1: 107 bytes with CRLF; v2: MAX_V2_PAYLOAD bytes after the 16-byte prefix). */
  TOO_LONG: 'ERR_PROXY_HEADER_TOO_LONG',
} as const;
export type ProxyProtocolErrorCodeValue = (typeof ProxyProtocolErrorCode)[keyof typeof ProxyProtocolErrorCode];

export class ProxyProtocolError extends CodedError<ProxyProtocolErrorCodeValue> {
  override readonly name = 'ProxyProtocolError';
}

/** What the proxy said. `source` is the client; absent for LOCAL (the proxy's own health check) and UNKNOWN. */
export interface ProxyHeader {
  version: 1 | 2;
  command: 'proxy' | 'local';
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
}

export type ProxyParseResult = { done: false } | { done: true; header: ProxyHeader; rest: Uint8Array };

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const V1_MAX = 107;
/** TLVs (unique id, SSL info, alignment) are allowed up to this many bytes after the addresses, and ignored. */
export const MAX_V2_PAYLOAD = 4096;

const fail = (code: ProxyProtocolErrorCodeValue, message: string) => new ProxyProtocolError(code, message);

/** Collects bytes until a whole header has arrived. One parser per connection; it throws on the first bad byte it can judge. */
export class ProxyHeaderParser {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): ProxyParseResult {
    this.buf = concatBytes([this.buf, chunk]);
    const b = this.buf;
    // Judge the prefix as soon as its bytes are here, so a client that is not a proxy is refused at once.
    const isV1 = V1_PREFIX.every((c, i) => i >= b.length || b[i] === c);
    const isV2 = V2_SIGNATURE.every((c, i) => i >= b.length || b[i] === c);
    if (!isV1 && !isV2) throw fail(ProxyProtocolErrorCode.MISSING, 'the connection does not start with a PROXY protocol header');
    if (isV1 && b.length >= V1_PREFIX.length) return this.v1(b);
    if (isV2 && b.length >= 16) return this.v2(b);
    return { done: false };
  }

  private v1(b: Uint8Array): ProxyParseResult {
    const lf = b.indexOf(0x0a);
    if (lf === -1) {
      if (b.length >= V1_MAX) throw fail(ProxyProtocolErrorCode.TOO_LONG, `a v1 header is at most ${V1_MAX} bytes`);
      for (const c of b) if (c !== 0x0d && (c < 0x20 || c > 0x7e)) throw fail(ProxyProtocolErrorCode.BAD, 'a v1 header is printable ASCII');
      return { done: false };
    }
    if (lf + 1 > V1_MAX) throw fail(ProxyProtocolErrorCode.TOO_LONG, `a v1 header is at most ${V1_MAX} bytes`);
    if (lf === 0 || b[lf - 1] !== 0x0d) throw fail(ProxyProtocolErrorCode.BAD, 'a v1 header ends with CRLF');
    let line = '';
    for (let i = 0; i < lf - 1; i++) {
      const c = b[i]!;
      if (c < 0x20 || c > 0x7e) throw fail(ProxyProtocolErrorCode.BAD, 'a v1 header is printable ASCII');
      line += String.fromCharCode(c);
    }
    const rest = b.slice(lf + 1);
    const parts = line.split(' ');
    if (parts[0] === 'PROXY' && parts[1] === 'UNKNOWN') return { done: true, header: { version: 1, command: 'proxy' }, rest };
    if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) {
      throw fail(ProxyProtocolErrorCode.BAD, 'a v1 header is "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN"');
    }
    const family = parts[1] === 'TCP4' ? 4 : 6;
    const source = { address: v1Address(parts[2]!, family), port: v1Port(parts[4]!) };
    const destination = { address: v1Address(parts[3]!, family), port: v1Port(parts[5]!) };
    return { done: true, header: { version: 1, command: 'proxy', source, destination }, rest };
  }

  private v2(b: Uint8Array): ProxyParseResult {
    const verCmd = b[12]!;
    if (verCmd >> 4 !== 2) throw fail(ProxyProtocolErrorCode.BAD, `v2 header version ${verCmd >> 4}, expected 2`);
    const cmd = verCmd & 0x0f;
    if (cmd > 1) throw fail(ProxyProtocolErrorCode.BAD, `v2 command ${cmd}, expected LOCAL (0) or PROXY (1)`);
    const length = (b[14]! << 8) | b[15]!;
    if (length > MAX_V2_PAYLOAD) throw fail(ProxyProtocolErrorCode.TOO_LONG, `v2 header of ${length} bytes, at most ${MAX_V2_PAYLOAD}`);
    if (b.length < 16 + length) return { done: false };
    const body = b.subarray(16, 16 + length);
    const rest = b.slice(16 + length);
    if (cmd === 0) return { done: true, header: { version: 2, command: 'local' }, rest };
    const fam = b[13]!;
    if (fam === 0x11) {
      if (length < 12) throw fail(ProxyProtocolErrorCode.BAD, 'v2 TCP over IPv4 needs 12 address bytes');
      const port = (at: number) => (body[at]! << 8) | body[at + 1]!;
      return {
        done: true,
        header: { version: 2, command: 'proxy', source: { address: formatIPv4(body.subarray(0, 4)), port: port(8) }, destination: { address: formatIPv4(body.subarray(4, 8)), port: port(10) } },
        rest,
      };
    }
    if (fam === 0x21) {
      if (length < 36) throw fail(ProxyProtocolErrorCode.BAD, 'v2 TCP over IPv6 needs 36 address bytes');
      const port = (at: number) => (body[at]! << 8) | body[at + 1]!;
      return {
        done: true,
        header: { version: 2, command: 'proxy', source: { address: formatIPv6(body.subarray(0, 16)), port: port(32) }, destination: { address: formatIPv6(body.subarray(16, 32)), port: port(34) } },
        rest,
      };
    }
    if (fam === 0x00) return { done: true, header: { version: 2, command: 'proxy' }, rest };
    throw fail(ProxyProtocolErrorCode.BAD, `v2 family/protocol 0x${fam.toString(16).padStart(2, '0')}: only TCP over IPv4 or IPv6 is proxied to the bridge`);
  }
}

function v1Address(text: string, family: 4 | 6): string {
  if (family === 4) {
    const ipv4 = parseIPv4(text);
    if (!ipv4) throw fail(ProxyProtocolErrorCode.BAD, `v1 TCP4 address ${JSON.stringify(text.slice(0, 50))} is not a dotted quad`);
    return formatIPv4(ipv4);
  }
  const ipv6 = text.includes('%') || text.includes('[') ? null : parseIPv6(text);
  if (!ipv6) throw fail(ProxyProtocolErrorCode.BAD, `v1 TCP6 address ${JSON.stringify(text.slice(0, 50))} is not an IPv6 address`);
  return formatIPv6(ipv6);
}

function v1Port(text: string): number {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw fail(ProxyProtocolErrorCode.BAD, `v1 port ${JSON.stringify(text.slice(0, 10))} is not 0-65535`);
  return Number(text);
}

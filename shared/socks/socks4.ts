/** SOCKS4 (NEC, "SOCKS: A protocol for TCP proxy across firewalls") and its SOCKS4a extension for host names. */
import { Command, commandText, MAX_SOCKS4_FIELD, SOCKS4_VERSION, Socks4ReplyCode } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import { asciiBytes, asciiText, formatIPv4, isValidHostname, parseIPv4, printable, utf8Encode } from './address.ts';
import { decodeWith, type DecodeResult } from './reader.ts';
import { checkPort, hex2 } from './socks5-address.ts';
import { boundAddressMeaning, requestAddressMeaning, socks4ReplyMeaning, type ReplyContext } from './reply-context.ts';

export interface Socks4Request {
  version: 4;
  command: number;
  port: number;
  /** The IPv4 destination, or for SOCKS4a the host name that followed the user id. */
  host: string;
  /** True when DSTIP was 0.0.0.x (x != 0) and a host name followed: the server resolves it. */
  socks4a: boolean;
  userId: Uint8Array;
}

export interface Socks4Reply {
  code: number;
  port: number;
  host: string;
}

const SPEC = 'SOCKS4 (NEC)';
const SPEC_4A = 'SOCKS4a (NEC)';

export function decodeSocks4Request(bytes: Uint8Array): DecodeResult<Socks4Request> {
  return decodeWith(bytes, SPEC, (r) => {
    r.u8('socks.version', 'VN', (value, offset) => {
      if (value !== SOCKS4_VERSION) {
        throw new SocksError(SocksErrorCode.BAD_VERSION, `expected SOCKS version 4, got 0x${hex2(value)}`, { offset });
      }
      return 'SOCKS version 4';
    });
    const command = r.u8('socks.command', 'CD', (value) => commandText(value));
    const port = r.u16('socks.dstport', 'DSTPORT', (value) => `${requestAddressMeaning(command, 'port')}: ${value}`);
    const ip = r.take('socks.dst', 'DSTIP', 4, (b) => {
      const is4a = b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] !== 0;
      return {
        value: formatIPv4(b),
        meaning: is4a ? 'SOCKS4a marker 0.0.0.x: a host name follows the user id' : requestAddressMeaning(command, 'address'),
      };
    });
    const socks4a = ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0;
    const tooLong = (what: string) => (offset: number) =>
      new SocksError(SocksErrorCode.FIELD_TOO_LONG, `${what} longer than ${MAX_SOCKS4_FIELD} bytes`, {
        offset,
        replyCode: Socks4ReplyCode.REJECTED,
      });
    const userId = r.cstring('socks.username', 'USERID', MAX_SOCKS4_FIELD, tooLong('user id'), (b) => ({
      value: printable(b),
      meaning: b.length === 0 ? 'empty user id' : 'user id',
    }));
    let host = formatIPv4(ip);
    if (socks4a) {
      const name = r.cstring('socks.v4a_dns_name', 'HOST', MAX_SOCKS4_FIELD, tooLong('host name'), (b, offset) => {
        const text = asciiText(b);
        if (!isValidHostname(text)) {
          throw new SocksError(SocksErrorCode.BAD_HOSTNAME, 'SOCKS4a host name is empty or not visible ASCII', {
            offset,
            replyCode: Socks4ReplyCode.REJECTED,
          });
        }
        return { value: text, meaning: 'host name the server resolves (SOCKS4a)' };
      });
      host = asciiText(name);
      for (const f of r.fields.slice(-2)) f.spec = SPEC_4A;
    }
    return { version: 4 as const, command, port, host, socks4a, userId };
  });
}

/**
 * Encodes a SOCKS4 request for an IPv4 literal, or with `socks4a` (or any host that is not an IPv4 literal) a
 * SOCKS4a request that carries the name.
 */
export function encodeSocks4Request(request: {
  command: number;
  host: string;
  port: number;
  userId?: string | Uint8Array;
  socks4a?: boolean;
}): Uint8Array {
  checkPort(request.port);
  const userId = typeof request.userId === 'string' ? utf8Encode(request.userId) : (request.userId ?? new Uint8Array());
  if (userId.length > MAX_SOCKS4_FIELD || userId.includes(0)) {
    throw new SocksError(SocksErrorCode.FIELD_TOO_LONG, 'user id must be at most 255 bytes with no NUL');
  }
  const ip = parseIPv4(request.host);
  let name: Uint8Array | null = null;
  if (!ip || request.socks4a === true) {
    if (!isValidHostname(request.host)) {
      throw new SocksError(SocksErrorCode.BAD_HOSTNAME, `not a host name SOCKS4a can carry: ${JSON.stringify(request.host)}`);
    }
    name = asciiBytes(request.host);
  }
  const out = new Uint8Array(8 + userId.length + 1 + (name ? name.length + 1 : 0));
  out[0] = SOCKS4_VERSION;
  out[1] = request.command;
  out[2] = request.port >> 8;
  out[3] = request.port & 0xff;
  out.set(name ? [0, 0, 0, 1] : ip!, 4);
  out.set(userId, 8);
  if (name) out.set(name, 9 + userId.length);
  return out;
}

/** Decodes a reply; `context` (the request's command, BIND's first or second reply) words CD, DSTPORT and DSTIP. */
export function decodeSocks4Reply(bytes: Uint8Array, context?: ReplyContext): DecodeResult<Socks4Reply> {
  return decodeWith(bytes, SPEC, (r) => {
    r.u8('socks.version', 'VN', (value, offset) => {
      // The documents say VN is 0; a few servers echo 4, which clients in the wild accept.
      if (value !== 0 && value !== SOCKS4_VERSION) {
        throw new SocksError(SocksErrorCode.BAD_VERSION, `expected reply version 0, got 0x${hex2(value)}`, { offset });
      }
      return value === 0 ? 'reply version 0' : 'reply version 4 (should be 0; tolerated)';
    });
    const code = r.u8('socks.results', 'CD', (value) => socks4ReplyMeaning(value, context));
    const granted = code === Socks4ReplyCode.GRANTED;
    // The NEC document: DSTPORT and DSTIP "are ignored" in a CONNECT reply; BIND's replies name the listener.
    const connect = context !== undefined && context.command !== Command.BIND;
    const words = (part: 'address' | 'port') => (granted && connect ? `ignored in a reply to CONNECT (the document says so)` : boundAddressMeaning(context, granted, part));
    const port = r.u16('socks.dstport', 'DSTPORT', (value) => `${words('port')}: ${value}`);
    const host = formatIPv4(r.take('socks.dst', 'DSTIP', 4, (b) => ({ value: formatIPv4(b), meaning: words('address') })));
    return { code, port, host };
  });
}

export function encodeSocks4Reply(reply: { code: number; host?: string; port?: number }): Uint8Array {
  const port = reply.port ?? 0;
  checkPort(port);
  const ip = parseIPv4(reply.host ?? '0.0.0.0');
  if (!ip) throw new SocksError(SocksErrorCode.BAD_ADDRESS, `SOCKS4 replies carry IPv4 only: ${reply.host}`);
  return new Uint8Array([0, reply.code, port >> 8, port & 0xff, ...ip]);
}

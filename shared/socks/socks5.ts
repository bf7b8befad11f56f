/** SOCKS5 messages of RFC 1928: greeting (§3), method selection (§3), request (§4) and reply (§6). */
import { AuthMethod, commandText, methodText, SOCKS5_VERSION } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import { decodeWith, type DecodeResult, type Reader } from './reader.ts';
import { encodeSocks5Address, hex2, readSocks5Address, type SocksAddress } from './socks5-address.ts';
import { bytesOrThrow } from './encode-result.ts';
import { boundAddressMeaning, requestAddressMeaning, socks5ReplyMeaning, type ReplyContext } from './reply-context.ts';

export interface Socks5Greeting {
  methods: number[];
}
export interface Socks5MethodSelection {
  method: number;
}
export interface Socks5Request extends SocksAddress {
  version: 5;
  command: number;
}
export interface Socks5Reply extends SocksAddress {
  reply: number;
}

const SPEC_3 = 'RFC 1928 §3';
const SPEC_4 = 'RFC 1928 §4';
const SPEC_6 = 'RFC 1928 §6';

function readVersion(r: Reader): void {
  r.u8('socks.version', 'VER', (value, offset) => {
    if (value !== SOCKS5_VERSION) {
      throw new SocksError(SocksErrorCode.BAD_VERSION, `expected SOCKS version 5, got 0x${hex2(value)}`, { offset });
    }
    return 'SOCKS version 5';
  });
}

export function decodeSocks5Greeting(bytes: Uint8Array): DecodeResult<Socks5Greeting> {
  return decodeWith(bytes, SPEC_3, (r) => {
    readVersion(r);
    const count = r.u8('socks.auth_method_count', 'NMETHODS', (value, offset) => {
      if (value === 0) throw new SocksError(SocksErrorCode.NO_METHODS, 'greeting offers no methods', { offset });
      return `${value} method${value === 1 ? '' : 's'} offered`;
    });
    const methods: number[] = [];
    for (let i = 0; i < count; i++) {
      methods.push(r.u8('socks.auth_method', 'METHOD', (value) => methodText(value)));
    }
    return { methods };
  });
}

export function encodeSocks5Greeting(methods: readonly number[]): Uint8Array {
  if (methods.length < 1 || methods.length > 255) {
    throw new SocksError(SocksErrorCode.NO_METHODS, 'a greeting offers 1 to 255 methods');
  }
  return new Uint8Array([SOCKS5_VERSION, methods.length, ...methods]);
}

export function decodeSocks5MethodSelection(bytes: Uint8Array): DecodeResult<Socks5MethodSelection> {
  return decodeWith(bytes, SPEC_3, (r) => {
    readVersion(r);
    const method = r.u8('socks.auth_accepted_method', 'METHOD', (value) =>
      value === AuthMethod.NO_ACCEPTABLE ? 'no acceptable methods: the client must close' : `server chose ${methodText(value)}`,
    );
    return { method };
  });
}

export function encodeSocks5MethodSelection(method: number): Uint8Array {
  return new Uint8Array([SOCKS5_VERSION, method]);
}

function readReserved(r: Reader): void {
  r.u8('socks.reserved', 'RSV', (value) => (value === 0 ? 'reserved' : 'reserved, should be 0x00'));
}

export function decodeSocks5Request(bytes: Uint8Array): DecodeResult<Socks5Request> {
  return decodeWith(bytes, SPEC_4, (r) => {
    readVersion(r);
    const command = r.u8('socks.command', 'CMD', (value) => commandText(value));
    readReserved(r);
    const meaning = { address: requestAddressMeaning(command, 'address'), port: requestAddressMeaning(command, 'port') };
    return { version: 5 as const, command, ...readSocks5Address(r, 'dst', meaning) };
  });
}

/** Throws a SocksError for a host or port SOCKS5 cannot carry; `encodeWith` turns that into a result. */
export function encodeSocks5Request(request: { command: number; host: string; port: number }): Uint8Array {
  const address = bytesOrThrow(encodeSocks5Address(request.host, request.port));
  const out = new Uint8Array(3 + address.length);
  out.set([SOCKS5_VERSION, request.command, 0]);
  out.set(address, 3);
  return out;
}

/**
 * Decodes a reply. `context` names the request it answers (CONNECT, BIND's first or second reply, UDP ASSOCIATE):
 * the meanings of REP and BND depend on it; without it they are worded generically.
 */
export function decodeSocks5Reply(bytes: Uint8Array, context?: ReplyContext): DecodeResult<Socks5Reply> {
  return decodeWith(bytes, SPEC_6, (r) => {
    readVersion(r);
    const reply = r.u8('socks.results', 'REP', (value) => socks5ReplyMeaning(value, context));
    readReserved(r);
    const ok = reply === 0;
    const meaning = { address: boundAddressMeaning(context, ok, 'address'), port: boundAddressMeaning(context, ok, 'port') };
    return { reply, ...readSocks5Address(r, 'bnd', meaning) };
  });
}

/** A reply; failures carry the unspecified address 0.0.0.0:0 unless told otherwise. */
export function encodeSocks5Reply(reply: { reply: number; host?: string; port?: number }): Uint8Array {
  const address = bytesOrThrow(encodeSocks5Address(reply.host ?? '0.0.0.0', reply.port ?? 0));
  const out = new Uint8Array(3 + address.length);
  out.set([SOCKS5_VERSION, reply.reply, 0]);
  out.set(address, 3);
  return out;
}

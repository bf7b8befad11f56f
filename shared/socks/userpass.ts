/** The username/password sub-negotiation of RFC 1929, which runs after the server selects method 0x02. */
import { USERPASS_VERSION } from './constants.ts';
import { SocksError, SocksErrorCode } from './errors.ts';
import { printable, utf8Encode } from './address.ts';
import { decodeWith, type DecodeResult, type Reader } from './reader.ts';
import { hex2 } from './socks5-address.ts';

/** Credentials are octets on the wire; the server compares them as bytes. */
export interface UserPassRequest {
  username: Uint8Array;
  password: Uint8Array;
}
export interface UserPassReply {
  status: number;
}

const SPEC = 'RFC 1929 §2';

function readVersion(r: Reader): void {
  r.u8('socks.subnegotiation_version', 'VER', (value, offset) => {
    if (value !== USERPASS_VERSION) {
      throw new SocksError(SocksErrorCode.BAD_VERSION, `expected sub-negotiation version 1, got 0x${hex2(value)}`, {
        offset,
      });
    }
    return 'username/password sub-negotiation version 1';
  });
}

/**
 * Decodes a username/password request. `maskPassword` withholds the password from the field list: the PASSWD
 * field says `masked: true`, its value and meaning say so, and its `hex` reads `**` for each byte (the message's
 * bytes are not changed).
 */
export function decodeUserPassRequest(bytes: Uint8Array, maskPassword = false): DecodeResult<UserPassRequest> {
  return decodeWith(bytes, SPEC, (r) => {
    readVersion(r);
    const ulen = r.u8('wsocks.username_length', 'ULEN', (value) => `${value}-byte username follows`);
    const username = r.take('socks.username', 'UNAME', ulen, (b) => ({ value: printable(b), meaning: 'username' }));
    const plen = r.u8('wsocks.password_length', 'PLEN', (value) => `${value}-byte password follows`);
    const password = r.take('socks.password', 'PASSWD', plen, (b) => ({
      value: maskPassword ? `(masked, ${b.length} bytes)` : printable(b),
      meaning: maskPassword ? 'password, sent in clear text; withheld here' : 'password, sent in clear text',
    }));
    if (maskPassword) {
      const field = r.fields.at(-1)!;
      field.masked = true;
      field.hex = Array.from({ length: plen }, () => '**').join(' ');
    }
    return { username, password };
  });
}

export function encodeUserPassRequest(username: string | Uint8Array, password: string | Uint8Array): Uint8Array {
  const u = typeof username === 'string' ? utf8Encode(username) : username;
  const p = typeof password === 'string' ? utf8Encode(password) : password;
  if (u.length < 1 || u.length > 255 || p.length > 255) {
    throw new SocksError(SocksErrorCode.FIELD_TOO_LONG, 'username must be 1-255 bytes and password 0-255 bytes');
  }
  const out = new Uint8Array(3 + u.length + p.length);
  out[0] = USERPASS_VERSION;
  out[1] = u.length;
  out.set(u, 2);
  out[2 + u.length] = p.length;
  out.set(p, 3 + u.length);
  return out;
}

export function decodeUserPassReply(bytes: Uint8Array): DecodeResult<UserPassReply> {
  return decodeWith(bytes, SPEC, (r) => {
    readVersion(r);
    const status = r.u8('socks.auth_status', 'STATUS', (value) =>
      value === 0
        ? 'success: the client may send its request'
        : `failure (0x${hex2(value)}): any value but 0x00 is a failure, and the server must close the connection`,
    );
    return { status };
  });
}

export function encodeUserPassReply(success: boolean): Uint8Array {
  return new Uint8Array([USERPASS_VERSION, success ? 0x00 : 0x01]);
}

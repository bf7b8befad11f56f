/** Protocol numbers from the NEC SOCKS4/4a documents, RFC 1928 and RFC 1929, with their meanings in words. */

export const SOCKS4_VERSION = 0x04;
export const SOCKS5_VERSION = 0x05;
/** Version byte of the RFC 1929 sub-negotiation (not the SOCKS version). */
export const USERPASS_VERSION = 0x01;

/** CD / CMD values. SOCKS4 knows only CONNECT and BIND. */
export const Command = {
  CONNECT: 0x01,
  BIND: 0x02,
  UDP_ASSOCIATE: 0x03,
} as const;
export type CommandCode = (typeof Command)[keyof typeof Command];

/** SOCKS5 authentication methods (RFC 1928 §3). */
export const AuthMethod = {
  NO_AUTH: 0x00,
  GSSAPI: 0x01,
  USERNAME_PASSWORD: 0x02,
  NO_ACCEPTABLE: 0xff,
} as const;

/** SOCKS5 ATYP values (RFC 1928 §4, §5). */
export const AddressType = {
  IPV4: 0x01,
  DOMAIN: 0x03,
  IPV6: 0x04,
} as const;
export type AddressTypeCode = (typeof AddressType)[keyof typeof AddressType];

/** SOCKS5 REP values (RFC 1928 §6). */
export const Socks5ReplyCode = {
  SUCCEEDED: 0x00,
  GENERAL_FAILURE: 0x01,
  NOT_ALLOWED: 0x02,
  NETWORK_UNREACHABLE: 0x03,
  HOST_UNREACHABLE: 0x04,
  CONNECTION_REFUSED: 0x05,
  TTL_EXPIRED: 0x06,
  COMMAND_NOT_SUPPORTED: 0x07,
  ADDRESS_TYPE_NOT_SUPPORTED: 0x08,
} as const;

/** SOCKS4 CD values of a reply (NEC SOCKS4 document). */
export const Socks4ReplyCode = {
  GRANTED: 0x5a,
  REJECTED: 0x5b,
  NO_IDENTD: 0x5c,
  IDENTD_MISMATCH: 0x5d,
} as const;

const SOCKS5_REPLY_TEXT: Record<number, string> = {
  0x00: 'succeeded',
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
};

const SOCKS4_REPLY_TEXT: Record<number, string> = {
  0x5a: 'request granted',
  0x5b: 'request rejected or failed',
  0x5c: 'rejected: SOCKS server cannot connect to identd on the client',
  0x5d: 'rejected: client program and identd report different user-ids',
};

const METHOD_TEXT: Record<number, string> = {
  0x00: 'no authentication required',
  0x01: 'GSSAPI',
  0x02: 'username/password',
  0xff: 'no acceptable methods',
};

const COMMAND_TEXT: Record<number, string> = {
  0x01: 'CONNECT',
  0x02: 'BIND',
  0x03: 'UDP ASSOCIATE',
};

const ATYP_TEXT: Record<number, string> = {
  0x01: 'IPv4 address',
  0x03: 'domain name',
  0x04: 'IPv6 address',
};

/** "connection refused" for 0x05, "unassigned" for codes RFC 1928 does not define. */
export function socks5ReplyText(code: number): string {
  return SOCKS5_REPLY_TEXT[code] ?? 'unassigned reply code';
}

export function socks4ReplyText(code: number): string {
  return SOCKS4_REPLY_TEXT[code] ?? 'unknown reply code';
}

export function methodText(method: number): string {
  if (METHOD_TEXT[method] !== undefined) return METHOD_TEXT[method];
  if (method >= 0x03 && method <= 0x7f) return 'IANA assigned method';
  if (method >= 0x80 && method <= 0xfe) return 'method reserved for private use';
  return 'unknown method';
}

export function commandText(command: number): string {
  return COMMAND_TEXT[command] ?? 'unknown command';
}

export function addressTypeText(atyp: number): string {
  return ATYP_TEXT[atyp] ?? 'unknown address type';
}

/** The longest host name or user id a decoder accepts in a NUL-terminated SOCKS4/4a field. */
export const MAX_SOCKS4_FIELD = 255;

/** Success and failure replies in the client's SOCKS version. */
import { isIP } from 'node:net';
import { encodeSocks4Reply } from '../../shared/socks/socks4.ts';
import { encodeSocks5Reply } from '../../shared/socks/socks5.ts';
import { Socks4ReplyCode, Socks5ReplyCode } from '../../shared/socks/constants.ts';
import { unmapIPv4 } from '../net/dial.ts';

export function successReply(version: 4 | 5, host: string, port: number): Uint8Array {
  const h = unmapIPv4(host);
  if (version === 5) return encodeSocks5Reply({ reply: Socks5ReplyCode.SUCCEEDED, host: h, port });
  // SOCKS4 replies carry only IPv4; for CONNECT the client ignores the address anyway.
  return encodeSocks4Reply({ code: Socks4ReplyCode.GRANTED, host: isIP(h) === 4 ? h : '0.0.0.0', port });
}

/** SOCKS5 gets the specific reply code; SOCKS4 knows only "rejected or failed". */
export function failureReply(version: 4 | 5, socks5Code: number): Uint8Array {
  return version === 5 ? encodeSocks5Reply({ reply: socks5Code }) : encodeSocks4Reply({ code: Socks4ReplyCode.REJECTED });
}

/** The query of the Identification Protocol (RFC 1413 §3): one line naming a TCP connection by its two ports. */
import { asciiBytes } from '../socks/address.ts';

/** TCP port identd listens on (RFC 1413 §2). */
export const IDENT_PORT = 113;

/**
 * The query for a connection, as the asking server sends it to the identd on the other host: the port on the identd's
 * side first (the client's port), then the asking server's own port, e.g. `6191 , 23\r\n`.
 */
export function encodeIdentQuery(ports: { identdSide: number; querySide: number }): Uint8Array {
  for (const p of [ports.identdSide, ports.querySide]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`not a TCP port: ${p}`);
  }
  return asciiBytes(`${ports.identdSide} , ${ports.querySide}\r\n`);
}

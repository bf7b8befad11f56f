/**
 * Wisp packets (the public Wisp protocol, v1.2 and v2 draft 6; docs/compat.md), sans-I/O. One packet per WebSocket message:
 * `u8 type | u32 stream id (LE) | payload`. Decoding never throws: a malformed message is a typed error.
 */
import { asciiText, utf8Encode } from '../socks/address.ts';

export const WispPacketType = { CONNECT: 0x01, DATA: 0x02, CONTINUE: 0x03, CLOSE: 0x04, INFO: 0x05 } as const;
export const WispStreamType = { TCP: 0x01, UDP: 0x02 } as const;

/** Close reasons (Wisp v1.2 "Close Reasons"). */
export const WispCloseReason = {
  UNKNOWN: 0x01,
  VOLUNTARY: 0x02,
  NETWORK_ERROR: 0x03,
  /** v2: the handshake failed on extensions (stream 0 only). */
  INCOMPATIBLE: 0x04,
  INVALID_INFO: 0x41,
  UNREACHABLE: 0x42,
  CONNECT_TIMEOUT: 0x43,
  REFUSED: 0x44,
  DATA_TIMEOUT: 0x47,
  BLOCKED: 0x48,
  THROTTLED: 0x49,
  CLIENT_ERROR: 0x81,
  /** v2 password extension: wrong username/password (stream 0, then the WebSocket closes). */
  AUTH_FAILED: 0xc0,
  /** v2 key extension: bad signature (not served here). */
  AUTH_BAD_SIGNATURE: 0xc1,
  /** v2: authentication is required and the client sent no credentials. */
  AUTH_REQUIRED: 0xc2,
} as const;

export const WISP_HEADER_BYTES = 5;
/** Longest hostname a CONNECT may carry (a DNS name is at most 253 characters; IPv6 literals are shorter). */
export const WISP_MAX_HOSTNAME_BYTES = 255;

export type WispPacket =
  | { type: 'connect'; id: number; streamType: number; port: number; hostname: string }
  | { type: 'data'; id: number; data: Uint8Array }
  | { type: 'continue'; id: number; remaining: number }
  | { type: 'close'; id: number; reason: number }
  /** v2 handshake (stream 0): the sender's version and its extension list (shared/protocol/wisp-extensions.ts). */
  | { type: 'info'; id: number; major: number; minor: number; extensions: Uint8Array };

export type WispDecodeResult = { ok: true; packet: WispPacket } | { ok: false; error: string };

/** Decodes one WebSocket message as a Wisp packet. `data` is a view into `bytes` (no copy). */
export function decodeWispPacket(bytes: Uint8Array): WispDecodeResult {
  if (bytes.length < WISP_HEADER_BYTES) return { ok: false, error: `a packet has a 5-byte header; got ${bytes.length} bytes` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[0]!;
  const id = view.getUint32(1, true);
  const payload = bytes.subarray(WISP_HEADER_BYTES);
  switch (type) {
    case WispPacketType.CONNECT: {
      if (payload.length < 4) return { ok: false, error: 'CONNECT needs a stream type, a port and a hostname' };
      const hostBytes = payload.subarray(3);
      if (hostBytes.length > WISP_MAX_HOSTNAME_BYTES) return { ok: false, error: `CONNECT hostname over ${WISP_MAX_HOSTNAME_BYTES} bytes` };
      // Names travel as ASCII (an IDN as punycode): anything else is refused here, before any policy or DNS.
      if (hostBytes.some((b) => b < 0x21 || b > 0x7e)) return { ok: false, error: 'CONNECT hostname must be printable ASCII (IDN as punycode)' };
      const hostname = asciiText(hostBytes);
      return { ok: true, packet: { type: 'connect', id, streamType: payload[0]!, port: view.getUint16(WISP_HEADER_BYTES + 1, true), hostname } };
    }
    case WispPacketType.DATA:
      return { ok: true, packet: { type: 'data', id, data: payload } };
    case WispPacketType.CONTINUE:
      if (payload.length !== 4) return { ok: false, error: `CONTINUE carries 4 bytes; got ${payload.length}` };
      return { ok: true, packet: { type: 'continue', id, remaining: view.getUint32(WISP_HEADER_BYTES, true) } };
    case WispPacketType.CLOSE:
      if (payload.length !== 1) return { ok: false, error: `CLOSE carries 1 byte; got ${payload.length}` };
      return { ok: true, packet: { type: 'close', id, reason: payload[0]! } };
    case WispPacketType.INFO:
      if (payload.length < 2) return { ok: false, error: `INFO carries a 2-byte version; got ${payload.length} bytes` };
      return { ok: true, packet: { type: 'info', id, major: payload[0]!, minor: payload[1]!, extensions: payload.subarray(2) } };
    default:
      return { ok: false, error: `unknown packet type 0x${type.toString(16).padStart(2, '0')}` };
  }
}

function header(type: number, id: number, payloadBytes: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(WISP_HEADER_BYTES + payloadBytes);
  const view = new DataView(out.buffer);
  out[0] = type;
  view.setUint32(1, id, true);
  return { out, view };
}

/** Encodes a Wisp packet (one WebSocket message). */
export function encodeWispPacket(p: WispPacket): Uint8Array {
  switch (p.type) {
    case 'connect': {
      const host = utf8Encode(p.hostname);
      const { out, view } = header(WispPacketType.CONNECT, p.id, 3 + host.length);
      out[5] = p.streamType;
      view.setUint16(6, p.port, true);
      out.set(host, 8);
      return out;
    }
    case 'data': {
      const { out } = header(WispPacketType.DATA, p.id, p.data.length);
      out.set(p.data, WISP_HEADER_BYTES);
      return out;
    }
    case 'continue': {
      const { out, view } = header(WispPacketType.CONTINUE, p.id, 4);
      view.setUint32(5, p.remaining, true);
      return out;
    }
    case 'close': {
      const { out } = header(WispPacketType.CLOSE, p.id, 1);
      out[5] = p.reason;
      return out;
    }
    case 'info': {
      const { out } = header(WispPacketType.INFO, p.id, 2 + p.extensions.length);
      out[5] = p.major;
      out[6] = p.minor;
      out.set(p.extensions, 7);
      return out;
    }
  }
}

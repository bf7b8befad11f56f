/**
 * Wisp v2 protocol extensions (the public Wisp spec, v2 draft 6; docs/compat.md), sans-I/O: the list an INFO packet
 * carries (`u8 id | u32 length LE | payload`, repeated) and the payloads of the extensions the bridge serves.
 * Decoding never throws: a malformed list is a typed error.
 */
import { utf8Encode } from '../socks/address.ts';

export const WispExtensionId = {
  UDP: 0x01,
  PASSWORD: 0x02,
  KEY_AUTH: 0x03,
  MOTD: 0x04,
  STREAM_CONFIRMATION: 0x05,
} as const;

export interface WispExtension {
  id: number;
  payload: Uint8Array;
}

/** Most extensions one INFO may list (there are five defined); more is a malformed packet. */
export const WISP_MAX_EXTENSIONS = 32;

export function decodeWispExtensions(bytes: Uint8Array): { ok: true; extensions: WispExtension[] } | { ok: false; error: string } {
  const extensions: WispExtension[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (extensions.length === WISP_MAX_EXTENSIONS) return { ok: false, error: `INFO lists over ${WISP_MAX_EXTENSIONS} extensions` };
    if (bytes.length - at < 5) return { ok: false, error: 'INFO extension entry shorter than its 5-byte header' };
    const id = bytes[at]!;
    const length = view.getUint32(at + 1, true);
    if (length > bytes.length - at - 5) return { ok: false, error: `INFO extension 0x${id.toString(16)} says ${length} bytes; fewer follow` };
    extensions.push({ id, payload: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return { ok: true, extensions };
}

export function encodeWispExtensions(extensions: readonly WispExtension[]): Uint8Array {
  const out = new Uint8Array(extensions.reduce((n, e) => n + 5 + e.payload.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of extensions) {
    out[at] = e.id;
    view.setUint32(at + 1, e.payload.length, true);
    out.set(e.payload, at + 5);
    at += 5 + e.payload.length;
  }
  return out;
}

/** The server's password-extension payload: whether password authentication is required. */
export function passwordServerPayload(required: boolean): Uint8Array {
  return Uint8Array.of(required ? 1 : 0);
}

/** The MOTD extension's server payload: the message, UTF-8. */
export function motdPayload(message: string): Uint8Array {
  return utf8Encode(message);
}

export interface WispCredentials {
  username: Uint8Array;
  password: Uint8Array;
}

/**
 * The client's password-extension payload, as the readings that fit it. Draft 6 of the spec says `u8 username
 * length | username | password`; drafts 3-5 (and wisp-js 0.5) put a `u16 LE password length` after the username
 * length. A payload can fit both: every fitting reading is returned (the caller accepts the credentials if one
 * reading is valid). Empty: the payload fits neither.
 */
export function passwordClientReadings(payload: Uint8Array): WispCredentials[] {
  const readings: WispCredentials[] = [];
  if (payload.length < 1) return readings;
  const ulen = payload[0]!;
  if (payload.length >= 3) {
    const plen = payload[1]! | (payload[2]! << 8);
    if (payload.length === 3 + ulen + plen) readings.push({ username: payload.subarray(3, 3 + ulen), password: payload.subarray(3 + ulen) });
  }
  if (payload.length >= 1 + ulen) readings.push({ username: payload.subarray(1, 1 + ulen), password: payload.subarray(1 + ulen) });
  return readings;
}

import { describe, expect, it } from 'vitest';
import {
  decodeWispExtensions,
  encodeWispExtensions,
  motdPayload,
  passwordClientReadings,
  passwordServerPayload,
  WispExtensionId,
  WISP_MAX_EXTENSIONS,
} from '../../../shared/protocol/wisp-extensions.ts';
import { asciiText, fromHex, toHex } from '../../../shared/socks/address.ts';

describe('Wisp v2 extension list codec', () => {
  // Written from the v2 draft 6 tables: u8 id | u32 length (LE) | payload, repeated.
  const hex = '01 00 00 00 00 02 01 00 00 00 01 04 02 00 00 00 68 69 05 00 00 00 00';
  const list = [
    { id: WispExtensionId.UDP, payload: new Uint8Array(0) },
    { id: WispExtensionId.PASSWORD, payload: passwordServerPayload(true) },
    { id: WispExtensionId.MOTD, payload: motdPayload('hi') },
    { id: WispExtensionId.STREAM_CONFIRMATION, payload: new Uint8Array(0) },
  ];

  it('encodes and decodes the server list byte-exact', () => {
    expect(toHex(encodeWispExtensions(list))).toBe(hex);
    const got = decodeWispExtensions(fromHex(hex));
    expect(got.ok && got.extensions.map((e) => [e.id, toHex(e.payload)])).toEqual(list.map((e) => [e.id, toHex(e.payload)]));
    expect(decodeWispExtensions(new Uint8Array(0))).toEqual({ ok: true, extensions: [] });
  });

  it('refuses every truncation inside an entry, a length past the end, and too many entries; never throws', () => {
    const bytes = fromHex(hex);
    const boundaries = new Set([0, 5, 11, 18, 23]);
    for (let n = 0; n <= bytes.length; n++) expect(decodeWispExtensions(bytes.subarray(0, n)).ok, `cut at ${n}`).toBe(boundaries.has(n));
    expect(decodeWispExtensions(fromHex('04 ff ff ff ff 68'))).toMatchObject({ ok: false, error: expect.stringContaining('0x4') });
    expect(decodeWispExtensions(new Uint8Array(5 * (WISP_MAX_EXTENSIONS + 1)))).toMatchObject({ ok: false });
  });

  it('reads the password payload of draft 6 and of drafts 3-5 (wisp-js 0.5)', () => {
    const text = (r: { username: Uint8Array; password: Uint8Array }) => [asciiText(r.username), asciiText(r.password)];
    // draft 6: u8 username length | username | password
    expect(passwordClientReadings(fromHex('02 6d 65 73 65 63 72 65 74')).map(text)).toEqual([['me', 'secret']]);
    // drafts 3-5: u8 username length | u16 LE password length | username | password (also fits draft 6, wrongly)
    const old = passwordClientReadings(fromHex('02 06 00 6d 65 73 65 63 72 65 74'));
    expect(old.map(text)[0]).toEqual(['me', 'secret']);
    expect(old).toHaveLength(2);
    expect(passwordClientReadings(new Uint8Array(0))).toEqual([]);
    // a username length past the end fits neither
    expect(passwordClientReadings(fromHex('09 61'))).toEqual([]);
  });
});

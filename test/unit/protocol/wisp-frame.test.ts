import { describe, expect, it } from 'vitest';
import { decodeWispPacket, encodeWispPacket, WispCloseReason, type WispPacket } from '../../../shared/protocol/wisp-frame.ts';
import { fromHex, toHex } from '../../../shared/socks/address.ts';

describe('Wisp packet codec', () => {
  // Vectors written from the Wisp v1.2 spec's tables (little-endian), not from an implementation.
  const vectors: Array<[string, WispPacket]> = [
    ['01 78 56 34 12 01 50 00 31 32 37 2e 30 2e 30 2e 31', { type: 'connect', id: 0x12345678, streamType: 1, port: 80, hostname: '127.0.0.1' }],
    ['02 01 00 00 00 68 69', { type: 'data', id: 1, data: fromHex('68 69') }],
    ['03 00 00 00 00 80 00 00 00', { type: 'continue', id: 0, remaining: 128 }],
    ['04 ff ff ff ff 48', { type: 'close', id: 0xffffffff, reason: WispCloseReason.BLOCKED }],
    // v2 draft 6: INFO on stream 0, version 2.0, one extension entry (UDP, no payload)
    ['05 00 00 00 00 02 00 01 00 00 00 00', { type: 'info', id: 0, major: 2, minor: 0, extensions: fromHex('01 00 00 00 00') }],
  ];

  it.each(vectors)('%s round-trips', (hex, packet) => {
    expect(toHex(encodeWispPacket(packet))).toBe(hex);
    const got = decodeWispPacket(fromHex(hex));
    expect(got.ok).toBe(true);
    if (got.ok && got.packet.type === 'data' && packet.type === 'data') expect(toHex(got.packet.data)).toBe(toHex(packet.data));
    else if (got.ok && got.packet.type === 'info' && packet.type === 'info') {
      expect({ ...got.packet, extensions: toHex(got.packet.extensions) }).toEqual({ ...packet, extensions: toHex(packet.extensions) });
    }
    else expect(got).toEqual({ ok: true, packet });
  });

  it('gives a typed error, never a throw, for every truncation of a packet fed byte by byte', () => {
    for (const [hex, packet] of vectors) {
      const bytes = fromHex(hex);
      for (let n = 0; n < bytes.length; n++) {
        const got = decodeWispPacket(bytes.subarray(0, n));
        // The WebSocket message is the packet's boundary: DATA may be empty past its header, and a CONNECT cut
        // inside its hostname is a CONNECT to a shorter name. Every other prefix is malformed.
        // An INFO cut inside its extension list is an INFO with a shorter list (wisp-extensions.ts judges the list).
        if ((packet.type === 'data' && n >= 5) || (packet.type === 'info' && n >= 7)) expect(got.ok).toBe(true);
        else if (packet.type === 'connect' && n >= 9) expect(got).toMatchObject({ ok: true, packet: { hostname: packet.hostname.slice(0, n - 8) } });
        else expect(got, `${hex} cut at ${n}`).toMatchObject({ ok: false, error: expect.any(String) });
      }
    }
  });

  it('refuses unknown types, oversized or non-ASCII hostnames, and long CONTINUE/CLOSE', () => {
    expect(decodeWispPacket(fromHex('06 00 00 00 00'))).toMatchObject({ ok: false, error: expect.stringContaining('0x06') });
    expect(decodeWispPacket(fromHex('05 00 00 00 00 02'))).toMatchObject({ ok: false, error: expect.stringContaining('INFO') });
    expect(decodeWispPacket(fromHex('01 01 00 00 00 01 50 00 c3 a9'))).toMatchObject({ ok: false });
    expect(decodeWispPacket(fromHex('01 01 00 00 00 01 50 00 61 00 62'))).toMatchObject({ ok: false });
    const long = new Uint8Array(5 + 3 + 256).fill(0x61);
    long[0] = 1;
    expect(decodeWispPacket(long)).toMatchObject({ ok: false, error: expect.stringContaining('255') });
    expect(decodeWispPacket(fromHex('03 00 00 00 00 01 00 00 00 00'))).toMatchObject({ ok: false });
    expect(decodeWispPacket(fromHex('04 00 00 00 00 02 02'))).toMatchObject({ ok: false });
  });

  it('decodes a view of a larger buffer at an odd offset', () => {
    const big = new Uint8Array(64);
    big.set(fromHex('03 07 00 00 00 10 00 00 00'), 3);
    expect(decodeWispPacket(big.subarray(3, 12))).toEqual({ ok: true, packet: { type: 'continue', id: 7, remaining: 16 } });
  });
});

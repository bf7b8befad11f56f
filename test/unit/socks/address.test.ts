import { describe, expect, it } from 'vitest';
import { formatIPv6, hostKind, parseIPv4, parseIPv6, toHex, utf8Encode } from '../../../shared/socks/index.ts';

describe('IP literals', () => {
  it('parses IPv4 strictly', () => {
    expect(toHex(parseIPv4('127.0.0.1')!)).toBe('7f 00 00 01');
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.a', '', ' 1.2.3.4']) {
      expect(parseIPv4(bad)).toBeNull();
    }
  });

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ])('parses %s and formats it as %s (RFC 5952)', (input, canonical) => {
    const bytes = parseIPv6(input);
    expect(bytes).not.toBeNull();
    expect(formatIPv6(bytes!)).toBe(canonical);
    expect(formatIPv6(parseIPv6(canonical)!)).toBe(canonical);
  });

  it.each(['1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '12345::', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', 'fe80::1%eth0', ':'])(
    'rejects %s',
    (input) => expect(parseIPv6(input)).toBeNull(),
  );

  it('classifies hosts', () => {
    expect(hostKind('10.1.2.3')).toBe('ipv4');
    expect(hostKind('[::1]')).toBe('ipv6');
    expect(hostKind('::1')).toBe('ipv6');
    expect(hostKind('localhost')).toBe('domain');
  });

  it('encodes UTF-8 like TextEncoder', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\u0000b']) {
      expect(Array.from(utf8Encode(s))).toEqual(Array.from(new TextEncoder().encode(s)));
    }
  });
});

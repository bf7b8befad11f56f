import { lookup } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { canonicalTarget } from '../../../shared/net/canonical-target.ts';
import { embeddedIPv4, judgedAddresses, nonGlobalBlock, SPECIAL_PURPOSE_BLOCKS } from '../../../shared/net/special-purpose.ts';
import { formatIPv4, parseIPv6 } from '../../../shared/socks/address.ts';

const ok = (host: string) => {
  const r = canonicalTarget(host);
  if (!r.ok) throw new Error(r.message);
  return r.target.host;
};

describe('canonicalTarget', () => {
  // Every numeric spelling glibc's inet_aton (and so getaddrinfo) accepts without asking DNS.
  const numeric: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'], ['127.1', '127.0.0.1'], ['127.0.1', '127.0.0.1'], ['0x7f.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['017700000001', '127.0.0.1'], ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'], ['0X7F000001', '127.0.0.1'], ['0', '0.0.0.0'], ['0x0', '0.0.0.0'], ['10.1', '10.0.0.1'],
    ['0xa.0x1.0x2.0x3', '10.1.2.3'], ['012.1.2.3', '10.1.2.3'], ['169.254.43518', '169.254.169.254'], ['4294967295', '255.255.255.255'],
    ['0300.0250.0.1', '192.168.0.1'], ['3232235521', '192.168.0.1'],
  ];
  it.each(numeric)('reads %s as %s, the address getaddrinfo dials', async (form, address) => {
    expect(ok(form)).toBe(address);
    const resolved = await lookup(form, { family: 4 });
    expect(resolved.address).toBe(address);
  });

  it.each([
    ['127.0.0.1.', '127.0.0.1'], ['１２７.０.０.１', '127.0.0.1'], ['127。0。0。1', '127.0.0.1'], ['[::1]', '::1'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'], ['0:0:0:0:0:0:0:1', '::1'], ['[0::0]', '::'], ['FE80::A', 'fe80::a'],
    ['WSX-Loop.TEST.', 'wsx-loop.test'], ['ｗｓｘ-loop.test', 'wsx-loop.test'], ['wsx-loop\u3002test', 'wsx-loop.test'],
    ['wsx-loop\uff0etest', 'wsx-loop.test'], ['ex\u00adample.com', 'example.com'], ['bücher.example', 'xn--bcher-kva.example'],
    ['_srv._tcp.example', '_srv._tcp.example'], ['127.0.0.1.a', '127.0.0.1.a'],
  ])('maps %j to %j', (form, canonical) => expect(ok(form)).toBe(canonical));

  it.each([
    ['', 'empty'], ['127.0.0.1\u0000.allowed.example', 'control-character'], ['wsx-loop.test\u0000', 'control-character'],
    ['a\tb', 'control-character'], ['a\u0085b', 'control-character'], ['a b', 'whitespace'], ['a\u00a0b', 'whitespace'],
    ['a\u3000b', 'whitespace'], ['a\u2028b', 'whitespace'], ['a\u200bb', 'whitespace'], ['::1%lo', 'zone-id'], ['fe80::1%25eth0', 'zone-id'],
    ['127%2e0.0.1', 'forbidden-character'], ['a/b', 'forbidden-character'], ['a@b', 'forbidden-character'], ['a\\b', 'forbidden-character'],
    ['a..b', 'empty-label'], ['.', 'empty-label'], ['.a', 'empty-label'], ['a..', 'empty-label'], [`${'a'.repeat(64)}.x`, 'label-too-long'],
    [Array(64).fill('abc').join('.'), 'name-too-long'], ['x'.repeat(2000), 'name-too-long'], ['1:2:3', 'bad-ip-literal'],
    ['[127.0.0.1]', 'bad-ip-literal'], ['::1::', 'bad-ip-literal'], ['09', 'bad-name'], ['1.2.3.4.5', 'bad-name'], ['4294967296', 'bad-name'],
    ['xn--', 'bad-name'], ['a!b', 'forbidden-character'], ['a*.b', 'forbidden-character'],
  ])('refuses %j (%s)', (form, reason) => {
    const r = canonicalTarget(form);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });
});

describe('special-purpose registry', () => {
  const v6 = (t: string) => parseIPv6(t)!;
  it('finds the IPv4 inside every IPv6 form that embeds one', () => {
    const forms = (t: string) => embeddedIPv4(v6(t)).map((e) => `${e.form} ${formatIPv4(e.ipv4)}`);
    expect(forms('64:ff9b::7f00:1')).toEqual(['nat64 127.0.0.1']);
    expect(forms('::7f00:1')).toEqual(['compatible 127.0.0.1']);
    expect(forms('::ffff:0:7f00:1')).toEqual(['siit 127.0.0.1']);
    expect(forms('::ffff:7f00:1')).toEqual(['mapped 127.0.0.1']);
    expect(forms('2002:7f00:1::1')).toEqual(['6to4 127.0.0.1']);
    expect(forms('2001:0:4136:e378:8000:63bf:80ff:fffe')).toEqual(['teredo-server 65.54.227.120', 'teredo-client 127.0.0.1']);
    expect(forms('64:ff9b:1:7f00:0:100::')).toEqual(['nat64-local 127.0.0.1', 'nat64-local 0.0.0.0']);
    expect(forms('::1')).toEqual([]);
    expect(forms('2606:4700::1111')).toEqual([]);
  });

  it('judges unspecified addresses as loopback too', () => {
    expect(judgedAddresses(Uint8Array.of(0, 0, 0, 0)).map(formatIPv4)).toEqual(['0.0.0.0', '127.0.0.1']);
    expect(judgedAddresses(v6('::')).at(-1)).toEqual(v6('::1'));
  });

  it('denies every non-global row and no globally reachable one outside them', () => {
    for (const b of SPECIAL_PURPOSE_BLOCKS) {
      if (b.global !== true) expect(nonGlobalBlock(b.cidr.bytes), b.cidr.text).toBeDefined();
    }
    expect(nonGlobalBlock(v6('2001:4:112::1'))).toBeDefined(); // inside 2001::/23: the stricter reading
    expect(nonGlobalBlock(v6('2620:4f:8000::1'))).toBeUndefined();
    expect(nonGlobalBlock(Uint8Array.of(192, 31, 196, 1))).toBeUndefined();
  });
});

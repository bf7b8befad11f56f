import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../../server/bridge/config.ts';
import { TargetPolicy } from '../../../server/bridge/policy.ts';

const policy = (p: object = {}) => new TargetPolicy(parseBridgeConfig({ policy: p }).policy);

describe('bridge target policy', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::', '::1', 'fc00::1', 'fd12::1', 'fe80::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254',
    // embedded IPv4: NAT64 (RFC 6052), IPv4-compatible, SIIT, 6to4, Teredo (client address obfuscated)
    '64:ff9b::7f00:1', '64:ff9b::a00:1', '::7f00:1', '::ffff:0:7f00:1', '2002:7f00:1::1', '2002:a00:1::',
    '2001:0:4136:e378:8000:63bf:80ff:fffe', '64:ff9b:1:7f00:0:100::',
    // documentation, benchmarking, reserved, SRv6
    '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.19.255.1', '240.0.0.1', '192.88.99.1', '2001:db8::1', '3fff::1',
    '5f00::1', '100::1', '2001:2::1',
  ])('denies %s by default', (address) => {
    expect(policy().checkAddress(address, 80).allow).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])('allows the public address %s', (address) => {
    expect(policy().checkAddress(address, 443)).toEqual({ allow: true, reason: 'public address' });
  });

  it('lets allow entries open non-public blocks, by port, and lets deny entries win', () => {
    const p = policy({ allow: [{ cidr: '127.0.0.0/8', ports: '8000-8100' }], deny: [{ cidr: '127.0.0.5' }, { ports: [25, '465'] }] });
    expect(p.checkAddress('127.0.0.1', 8080)).toEqual({ allow: true, reason: 'allowed by policy.allow[0]' });
    expect(p.checkAddress('127.0.0.1', 22).allow).toBe(false);
    expect(p.checkAddress('127.0.0.5', 8080)).toEqual({ allow: false, reason: 'denied by policy.deny[0]' });
    expect(p.checkAddress('8.8.8.8', 25)).toEqual({ allow: false, reason: 'denied by policy.deny[1]' });
    expect(p.checkAddress('::ffff:127.0.0.1', 8080).allow).toBe(true);
    // embedded and unspecified addresses are judged as the IPv4 / loopback they mean
    expect(p.checkAddress('0.0.0.0', 8080).allow).toBe(false); // 0/8 itself is still denied
    expect(policy({ deny: [{ cidr: '127.0.0.0/8' }], allow: [{ cidr: '0.0.0.0/8' }, { cidr: '::/0' }] }).checkAddress('0.0.0.0', 80).allow).toBe(false);
    expect(policy({ deny: [{ cidr: '127.0.0.0/8' }], allow: [{ cidr: '::/0' }] }).checkAddress('64:ff9b::7f00:1', 80).reason).toMatch(/as 127\.0\.0\.1/);
    expect(policy({ deny: [{ cidr: '::1' }], allow: [{ cidr: '::/0' }] }).checkAddress('::', 80).allow).toBe(false);
  });

  it('matches host patterns against the name asked for, also through chains', () => {
    const p = policy({ deny: [{ host: '*.internal.example' }], allow: [{ host: 'db.example', ports: '5432' }] });
    expect(p.checkAddress('8.8.8.8', 80, 'a.internal.example').allow).toBe(false);
    expect(p.checkAddress('10.0.0.5', 5432, 'db.example').allow).toBe(true);
    expect(p.checkNameOnly('x.internal.example', 80).allow).toBe(false);
    expect(p.checkNameOnly('anything.else', 80).allow).toBe(true);
  });

  it('refuses a config that names an entry wrongly, with the field', () => {
    expect(() => parseBridgeConfig({ policy: { allow: [{ cidr: '10.0.0.0/8', host: 'x.example' }] } })).toThrow(/policy\.allow\.0: give cidr or host/);
    expect(() => parseBridgeConfig({ policy: { deny: [{ ports: '70000' }] } })).toThrow(/policy\.deny\.0\.ports/);
  });
});

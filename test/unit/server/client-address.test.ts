import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, forwardedFor, xForwardedFor } from '../../../server/bridge/client-address.ts';
import { parseCidr } from '../../../shared/net/cidr.ts';

const trusted = ['10.0.0.0/8', '::1/128'].map((c) => parseCidr(c)!);
const req = (headers: Record<string, string | string[]>) => ({ headers }) as unknown as IncomingMessage;

describe('client address behind trusted proxies', () => {
  it('parses Forwarded (RFC 7239) for= nodes: quoted, bracketed IPv6, ports, other parameters', () => {
    expect(forwardedFor('for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https, by=10.0.0.1;For="198.51.100.9:80"')).toEqual([
      '192.0.2.43',
      '2001:db8:cafe::17',
      '198.51.100.9',
    ]);
    expect(forwardedFor('for=unknown;host="a,b"')).toEqual(['unknown']);
    expect(xForwardedFor(' 203.0.113.1 , 10.1.1.1:3456,2001:db8::1 ')).toEqual(['203.0.113.1', '10.1.1.1', '2001:db8::1']);
  });

  it('takes the rightmost address that is not a trusted proxy; a made-up left part changes nothing', () => {
    expect(clientAddress(req({ 'x-forwarded-for': '6.6.6.6, 203.0.113.5, 10.2.2.2' }), '10.0.0.1', trusted, false)).toEqual({
      ok: true,
      address: '203.0.113.5',
      via: '10.0.0.1',
    });
    // Forwarded wins over X-Forwarded-For; headers repeated are one list.
    expect(clientAddress(req({ forwarded: 'for=198.51.100.1', 'x-forwarded-for': '203.0.113.5' }), '10.0.0.1', trusted, false)).toMatchObject({ address: '198.51.100.1' });
    expect(clientAddress(req({ 'x-forwarded-for': ['1.1.1.1', '::ffff:198.51.100.2'] }), '10.0.0.1', trusted, false)).toMatchObject({ address: '198.51.100.2' });
    // Every hop trusted: the leftmost one is the client.
    expect(clientAddress(req({ 'x-forwarded-for': '10.9.9.9, 10.2.2.2' }), '::1', trusted, false)).toMatchObject({ address: '10.9.9.9' });
  });

  it('ignores the headers of a peer that is not trusted', () => {
    expect(clientAddress(req({ 'x-forwarded-for': '203.0.113.5', forwarded: 'for=1.2.3.4' }), '192.0.2.1', trusted, false)).toEqual({ ok: true, address: '192.0.2.1', via: undefined });
    expect(clientAddress(req({ 'x-forwarded-for': '203.0.113.5' }), '10.0.0.1', [], false)).toMatchObject({ address: '10.0.0.1' });
  });

  it('refuses a trusted peer that says nothing, or names a client that is not an IP address', () => {
    expect(clientAddress(req({}), '10.0.0.1', trusted, false)).toMatchObject({ ok: false });
    expect(clientAddress(req({ 'x-forwarded-for': '' }), '10.0.0.1', trusted, false)).toMatchObject({ ok: false });
    expect(clientAddress(req({ forwarded: 'for=_hidden' }), '10.0.0.1', trusted, false)).toMatchObject({ ok: false });
    expect(clientAddress(req({ 'x-forwarded-for': '203.0.113.5, evil.example' }), '10.0.0.1', trusted, false)).toMatchObject({ ok: false });
    // A PROXY header already said who the client is.
    expect(clientAddress(req({}), '10.0.0.1', trusted, true)).toMatchObject({ ok: true, address: '10.0.0.1' });
  });
});

import { describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../../server/bridge/config.ts';
import { OpenSchema } from '../../../shared/protocol/messages.ts';
import { gssServiceName } from '../../../server/gssapi/initiators.ts';
import { chooseProtection } from '../../../server/socks/connection.ts';
import { SocksServerOptionsSchema } from '../../../server/socks/options.ts';

const route = (hop: Record<string, unknown>) => ({ routes: { r: [{ type: 'socks5', host: 'proxy.example', port: 1080, ...hop }] } });

describe('GSS-API configuration', () => {
  it('a route hop takes auth: "gssapi" with its defaults (confidentiality, RFC style)', () => {
    const c = parseBridgeConfig(route({ auth: 'gssapi', keytab: '/etc/wsocks/bridge.keytab' }));
    expect(c.routes.r!.hops[0]).toMatchObject({ auth: 'gssapi', keytab: '/etc/wsocks/bridge.keytab', protection: 'confidentiality', nec: false });
  });

  it.each([
    [{ type: 'socks4a', auth: 'gssapi' }, 'needs a socks5 hop'],
    [{ auth: 'gssapi', username: 'u', password: 'p' }, 'no username or password'],
    [{ auth: 'gssapi', keytab: 'a', ccache: 'b' }, 'keytab or ccache, not both'],
    [{ keytab: '/k' }, 'for auth: "gssapi" hops'],
    [{ auth: 'gssapi', service: 'rcmd/host@REALM' }, 'no realm'],
    [{ auth: 'gssapi', protection: 'per-message' }, 'protection'],
  ])('refuses the hop %j (%s)', (hop, words) => {
    expect(() => parseBridgeConfig(route(hop))).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining(words) }));
  });

  it('a client chain (via) cannot use the bridge\'s Kerberos credentials', () => {
    const open = { type: 'open', id: 1, host: 'example.com', port: 80, window: 65536, via: [{ type: 'socks5', host: 'p', port: 1080, auth: 'gssapi' }] };
    expect(OpenSchema.safeParse(open).success).toBe(false);
  });

  it('names the service the way curl and Dante do', () => {
    expect(gssServiceName(undefined, 'proxy.example')).toBe('rcmd@proxy.example');
    expect(gssServiceName('sockd', 'proxy.example')).toBe('sockd@proxy.example');
    expect(gssServiceName('rcmd/real-name', 'proxy.example')).toBe('rcmd@real-name');
    expect(gssServiceName('host@other', 'proxy.example')).toBe('host@other');
  });

  it('the server answers the proposed level if it grants it, else its strongest', () => {
    expect(chooseProtection(['clear'], 2)).toBe(0);
    expect(chooseProtection(['clear', 'integrity', 'confidentiality'], 1)).toBe(1);
    expect(chooseProtection(['integrity', 'confidentiality'], 0)).toBe(2);
    expect(chooseProtection(['integrity'], 3)).toBe(1);
    expect(SocksServerOptionsSchema.parse({ gssapi: { keytab: '/k', service: 'rcmd' } }).gssapi!.protection).toEqual(['clear']);
    expect(SocksServerOptionsSchema.safeParse({ gssapi: { keytab: '/k', service: 'rcmd x' } }).success).toBe(false);
  });
});

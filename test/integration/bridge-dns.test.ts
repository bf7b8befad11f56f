import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { startDnsServer, DNS_TYPE_A, type DnsServer } from '../../server/net/dns-responder.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { rawSession } from '../helpers/raw-session.ts';
import { countingTcp, type CountingListener } from '../helpers/counting-listeners.ts';
import { openSession } from '../helpers/bridge.ts';
import { startUdpEcho } from '../helpers/net.ts';

/**
 * DNS rebinding, for real and on loopback only: the policy allows 127.0.0.2 and not 127.0.0.1; rebind.test first
 * answers 127.0.0.2, then 127.0.0.1, each with TTL 0. The bridge must connect only to the address it checked.
 */
describe('bridge resolver (dns.servers) and DNS rebinding', () => {
  let dns: DnsServer;
  let answers: string[] = [];
  const asked: string[] = [];
  let checked: CountingListener;
  let loopback: CountingListener;
  let socks: SocksServer;
  let bridge: BridgeServer;

  beforeAll(async () => {
    dns = await startDnsServer((name, type) => {
      asked.push(`${name}/${type}`);
      if (name === 'mixed.test') return type === DNS_TYPE_A ? [{ address: '127.0.0.1', ttl: 0 }, { address: '127.0.0.2', ttl: 0 }] : [];
      if (name !== 'rebind.test') return null;
      if (type !== DNS_TYPE_A) return [];
      return [{ address: answers.shift() ?? '127.0.0.1', ttl: 0 }];
    });
    checked = await countingTcp('127.0.0.2');
    loopback = await countingTcp('127.0.0.1', checked.port);
    socks = await SocksServer.start({ port: 0 });
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      dns: { servers: [dns.address] },
      policy: { allow: [{ cidr: '127.0.0.2/32' }] },
      routes: {
        // The last hop is asked for the address the bridge checked, never the name.
        local: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port, resolve: 'local' }],
        // The name goes on, after every address it had was checked.
        named: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }],
      },
    });
  });
  afterAll(async () => {
    await bridge.close();
    await socks.close();
    await checked.close();
    await loopback.close();
    await dns.close();
  });

  it('connects to the address it checked, then refuses the rebound answer (direct and through a route)', async () => {
    const s = await rawSession(bridge.url);
    for (const [id, route] of [[1, undefined], [3, 'local']] as const) {
      answers = ['127.0.0.2', '127.0.0.1'];
      const before = checked.hits.length;
      s.send({ type: 'open', id, host: 'rebind.test', port: checked.port, window: 1024, ...(route ? { route } : {}) });
      expect(await s.next((m) => m.id === id && m.type !== 'transcript')).toMatchObject({ type: 'opened' });
      s.send({ type: 'open', id: id + 1, host: 'REBIND.test.', port: checked.port, window: 1024, ...(route ? { route } : {}) });
      expect(await s.next((m) => m.id === id + 1)).toMatchObject({ type: 'error', code: 'ERR_POLICY_DENIED', message: expect.stringMatching(/127\.0\.0\.1 is in 127\.0\.0\.0\/8/) });
      // The accept may land just after 'opened' (through the proxy): wait for it by event, not by time.
      await expect.poll(() => checked.hits.length, { timeout: 10_000 }).toBe(before + 1);
    }
    expect(loopback.hits).toEqual([]);
    expect(asked.filter((q) => q === 'rebind.test/1').length).toBe(4); // asked each time: TTL 0 is not cached
    s.ws.close();
  });

  it('does not pass a name on when one of its addresses is denied', async () => {
    answers = ['127.0.0.1'];
    const s = await rawSession(bridge.url);
    s.send({ type: 'open', id: 1, host: 'rebind.test', port: checked.port, window: 1024, route: 'named' });
    expect(await s.next((m) => m.id === 1)).toMatchObject({ type: 'error', code: 'ERR_POLICY_DENIED' });
    expect(loopback.hits).toEqual([]);
    s.ws.close();
  });

  it('asks the proxy for the allowed address, not the name, when only some of its addresses are allowed', async () => {
    const s = await rawSession(bridge.url);
    const before = checked.hits.length;
    s.send({ type: 'open', id: 1, host: 'mixed.test', port: checked.port, window: 1024, route: 'named', inspect: true });
    const notes: string[] = [];
    const opened = await s.next((m) => {
      const entry = m.type === 'transcript' ? (m.entry as { note?: string }) : undefined;
      if (m.id === 1 && entry?.note) notes.push(entry.note);
      return m.id === 1 && m.type !== 'transcript';
    });
    expect(opened).toMatchObject({ type: 'opened' });
    expect(notes).toContain('mixed.test: hop 1 is asked for 127.0.0.2, the address the bridge checked (not the name: 127.0.0.1 was denied)');
    await expect.poll(() => checked.hits.length, { timeout: 10_000 }).toBe(before + 1);
    expect(loopback.hits).toEqual([]);
    s.ws.close();
  });

  it('refuses a dns.servers entry that is not an address', async () => {
    await expect(BridgeServer.start({ listen: '127.0.0.1:0', dns: { servers: ['resolver.example'] } })).rejects.toThrow(/dns\.servers\.0/);
  });

  it('sends a UDP datagram through a resolve: "local" route with the checked address in its header, never the name', async () => {
    // Our SOCKS server cannot resolve rebind.test (only the bridge's dns.servers can): the datagram arrives only if
    // the bridge put the address it checked in the RFC 1928 header.
    const echo = await startUdpEcho('127.0.0.2');
    const session = await openSession(bridge.url);
    try {
      answers = ['127.0.0.2'];
      const socket = session.openUdp({ host: 'rebind.test', port: echo.port }, { route: 'local' });
      const info = await socket.opened;
      const writer = info.writable.getWriter();
      await writer.write({ data: new TextEncoder().encode('by address') });
      const reply = await info.readable.getReader().read();
      expect(new TextDecoder().decode(reply.value!.data)).toBe('by address');
      expect(echo.seen.map((s) => s.data)).toEqual(['by address']);
    } finally {
      session.close();
      await echo.close();
    }
  });
});

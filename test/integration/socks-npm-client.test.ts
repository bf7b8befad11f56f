import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocksClient, type SocksProxy } from 'socks';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { startEcho, startUdpEcho, type Running } from '../helpers/net.ts';

// The npm `socks` package is a second independent client, and the one that exercises BIND and UDP ASSOCIATE.
describe('npm socks client through our SOCKS server', () => {
  let echo: Running;
  let udpEcho: Awaited<ReturnType<typeof startUdpEcho>>;
  let server: SocksServer;
  const log: SocksLogEntry[] = [];
  const proxy = (type: 4 | 5, extra: Partial<SocksProxy> = {}): SocksProxy => ({
    host: '127.0.0.1',
    port: server.address.port,
    type,
    ...extra,
  });

  beforeAll(async () => {
    echo = await startEcho();
    udpEcho = await startUdpEcho();
    server = await SocksServer.start({ port: 0, users: [] }, (e) => log.push(e));
  });
  afterAll(async () => {
    await server.close();
    await echo.close();
    await udpEcho.close();
  });

  it.each([4, 5] as const)('CONNECT (SOCKS%i) carries bytes both ways', async (type) => {
    const { socket } = await SocksClient.createConnection({
      proxy: proxy(type, { userId: 'carol' }),
      command: 'connect',
      destination: { host: '127.0.0.1', port: echo.port },
    });
    socket.write('ping over socks');
    const [data] = await once(socket, 'data');
    expect(String(data)).toBe('ping over socks');
    socket.destroy();
  });

  it.each([4, 5] as const)('BIND (SOCKS%i) gives both replies and relays the incoming connection', async (type) => {
    const client = new SocksClient({
      proxy: proxy(type),
      command: 'bind',
      destination: { host: '127.0.0.1', port: 0 },
    });
    const bound = once(client, 'bound');
    const established = once(client, 'established');
    client.connect();
    const [first] = await bound;
    expect(first.remoteHost.host).toBe('127.0.0.1');
    expect(first.remoteHost.port).toBeGreaterThan(0);
    // The "application server" connects to the address of the first reply.
    const peer = connect({ host: first.remoteHost.host, port: first.remoteHost.port });
    await once(peer, 'connect');
    const [second] = await established;
    expect(second.remoteHost).toEqual({ host: '127.0.0.1', port: peer.localPort });
    peer.write('from peer');
    const [atClient] = await once(second.socket, 'data');
    expect(String(atClient)).toBe('from peer');
    second.socket.write('from client');
    const [atPeer] = await once(peer, 'data');
    expect(String(atPeer)).toBe('from client');
    peer.destroy();
    second.socket.destroy();
  });

  it('BIND refuses a connection from an address other than DST.ADDR', async () => {
    const client = new SocksClient({ proxy: proxy(5), command: 'bind', destination: { host: '127.0.0.9', port: 0 } });
    const bound = once(client, 'bound');
    const failed = once(client, 'error');
    client.connect();
    const [first] = await bound;
    const peer = connect({ host: first.remoteHost.host, port: first.remoteHost.port, localAddress: '127.0.0.1' });
    peer.on('error', () => {});
    const [err] = await failed;
    expect(String(err.message)).toMatch(/rejected incoming bound connection - NotAllowed$/);
    peer.destroy();
  });

  it('UDP ASSOCIATE relays datagrams and prefixes replies with the sender', async () => {
    const client = new SocksClient({ proxy: proxy(5), command: 'associate', destination: { host: '0.0.0.0', port: 0 } });
    const established = once(client, 'established');
    client.connect();
    const [info] = await established;
    const relay = info.remoteHost as { host: string; port: number };
    expect(relay.host).toBe('127.0.0.1');
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const send = (data: string, frame: Partial<{ frameNumber: number }> = {}) =>
      udp.send(
        SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpEcho.port }, data: Buffer.from(data), ...frame }),
        relay.port,
        relay.host,
      );

    send('dgram one');
    const [reply] = await once(udp, 'message');
    const parsed = SocksClient.parseUDPFrame(reply as Buffer);
    expect(parsed.remoteHost).toEqual({ host: '127.0.0.1', port: udpEcho.port });
    expect(String(parsed.data)).toBe('dgram one');

    // A fragment (FRAG != 0) is dropped; the next whole datagram still goes through, so only it is echoed.
    send('fragment', { frameNumber: 1 });
    send('dgram two');
    const [reply2] = await once(udp, 'message');
    expect(String(SocksClient.parseUDPFrame(reply2 as Buffer).data)).toBe('dgram two');
    expect(udpEcho.seen.map((s) => s.data)).toEqual(['dgram one', 'dgram two']);
    expect(log.some((e) => e.event === 'udp-drop' && /fragment 1/.test(e.reason ?? ''))).toBe(true);

    // A stranger (another IP) sending to the relay gets nothing relayed.
    const stranger = createSocket('udp4');
    stranger.bind(0, '127.0.0.2');
    await once(stranger, 'listening');
    stranger.send(
      SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpEcho.port }, data: Buffer.from('intruder') }),
      relay.port,
      relay.host,
    );
    send('dgram three');
    await once(udp, 'message');
    expect(udpEcho.seen.map((s) => s.data)).toEqual(['dgram one', 'dgram two', 'dgram three']);
    expect(log.some((e) => e.event === 'udp-drop' && /stranger 127\.0\.0\.2/.test(e.reason ?? ''))).toBe(true);

    // Closing the control connection ends the association.
    expect(server.stats().udpAssociations).toBe(1);
    info.socket.destroy();
    await server.whenIdle();
    expect(server.stats().udpAssociations).toBe(0);
    udp.close();
    stranger.close();
  });

  it('left nothing open', async () => {
    await server.whenIdle();
    expect(server.stats()).toEqual({ connections: 0, bindListeners: 0, udpAssociations: 0 });
  });
});

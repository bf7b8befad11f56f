import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { encodeSocks4Request, encodeSocks5Request, encodeUserPassRequest, fromHex, toHex } from '../../shared/socks/index.ts';
import { blackholePort, RawClient, refusedPort, startEcho, type Running } from '../helpers/net.ts';

const hex = (b: Buffer) => toHex(b);

// Bad clients and failing targets, byte by byte: each gets the right reply (or close) and nobody else notices.
describe('SOCKS server under bad input and failing targets', () => {
  let echo: Running;
  let server: SocksServer;
  let authServer: SocksServer;
  const log: SocksLogEntry[] = [];

  beforeAll(async () => {
    echo = await startEcho();
    server = await SocksServer.start(
      {
        port: 0,
        handshakeTimeoutMs: 300,
        connectTimeoutMs: 500,
        rules: [
          { action: 'deny', to: ['127.0.0.1'], port: [String(echo.port)], command: ['connect'], user: ['mallory'] },
          { action: 'deny', to: ['*.denied.test', '127.0.0.3'] },
          { action: 'allow', from: ['127.0.0.0/8'] },
        ],
      },
      (e) => log.push(e),
    );
    authServer = await SocksServer.start({ port: 0, users: [{ username: 'alice', password: 'pw' }] });
  });
  afterAll(async () => {
    await server.close();
    await authServer.close();
    await echo.close();
  });

  async function socks5(port = server.address.port): Promise<RawClient> {
    const c = await RawClient.connect(port);
    c.send(fromHex('05 01 00'));
    expect(hex(await c.read(2))).toBe('05 00');
    return c;
  }

  it('answers a wrong password with 01 01 and closes', async () => {
    const c = await RawClient.connect(authServer.address.port);
    c.send(fromHex('05 01 02'));
    expect(hex(await c.read(2))).toBe('05 02');
    c.send(encodeUserPassRequest('alice', 'wrong'));
    expect(hex(await c.read(2))).toBe('01 01');
    await c.closed;
  });

  it('accepts the right password and relays', async () => {
    const c = await RawClient.connect(authServer.address.port);
    // Greeting, credentials, request and first data in one write, as an eager client sends them.
    c.send(Buffer.concat([fromHex('05 01 02'), encodeUserPassRequest('alice', 'pw'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port: echo.port }), Buffer.from('early')]));
    expect(hex(await c.read(4))).toBe('05 02 01 00');
    expect(hex((await c.read(10)).subarray(0, 4))).toBe('05 00 00 01');
    expect(String(await c.read(5))).toBe('early');
    c.destroy();
  });

  it('answers 05 FF to a client that offers only GSSAPI', async () => {
    const c = await RawClient.connect(server.address.port);
    c.send(fromHex('05 01 01'));
    expect(hex(await c.read(2))).toBe('05 ff');
    await c.closed;
  });

  it('answers REP 0x02 when a rule denies the destination (by CIDR and by host pattern)', async () => {
    for (const host of ['127.0.0.3', 'www.denied.test']) {
      const c = await socks5();
      c.send(encodeSocks5Request({ command: 1, host, port: 80 }));
      expect(hex(await c.read(10))).toBe('05 02 00 01 00 00 00 00 00 00');
      await c.closed;
    }
    expect(log.some((e) => e.event === 'denied' && e.target === '127.0.0.3:80')).toBe(true);
  });

  it('denies by user id (SOCKS4) with 0x5B while others reach the same target', async () => {
    const c = await RawClient.connect(server.address.port);
    c.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: 'mallory' }));
    expect(hex(await c.read(8))).toBe('00 5b 00 00 00 00 00 00');
    await c.closed;
    const ok = await RawClient.connect(server.address.port);
    ok.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: 'trent' }));
    expect(hex((await ok.read(8)).subarray(0, 2))).toBe('00 5a');
    ok.destroy();
  });

  it('answers REP 0x05 for a refused port, and 0x5B in SOCKS4', async () => {
    const port = await refusedPort();
    const c = await socks5();
    c.send(encodeSocks5Request({ command: 1, host: '127.0.0.1', port }));
    expect(hex(await c.read(10))).toBe('05 05 00 01 00 00 00 00 00 00');
    await c.closed;
    const c4 = await RawClient.connect(server.address.port);
    c4.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port }));
    expect(hex(await c4.read(8))).toBe('00 5b 00 00 00 00 00 00');
    await c4.closed;
  });

  it('answers REP 0x04 for a name that does not resolve', async () => {
    const c = await socks5();
    c.send(encodeSocks5Request({ command: 1, host: 'no-such-host.invalid', port: 80 }));
    expect(hex((await c.read(10)).subarray(0, 2))).toBe('05 04');
    await c.closed;
  });

  it('answers REP 0x06 when the target does not answer within the connect timeout', async () => {
    const hole = await blackholePort();
    try {
      const c = await socks5();
      c.send(encodeSocks5Request({ command: 1, host: '127.0.0.1', port: hole.port }));
      expect(hex(await c.read(10))).toBe('05 06 00 01 00 00 00 00 00 00');
      await c.closed;
    } finally {
      await hole.close();
    }
  });

  it('answers REP 0x07 to an unknown command and 0x08 to an unknown address type', async () => {
    const c = await socks5();
    c.send(fromHex('05 09 00 01 7f 00 00 01 00 50'));
    expect(hex(await c.read(10))).toBe('05 07 00 01 00 00 00 00 00 00');
    await c.closed;
    const d = await socks5();
    d.send(fromHex('05 01 00 02 7f 00 00 01 00 50'));
    expect(hex(await d.read(10))).toBe('05 08 00 01 00 00 00 00 00 00');
    await d.closed;
    const e = await RawClient.connect(server.address.port);
    e.send(encodeSocks4Request({ command: 3, host: '127.0.0.1', port: 80 }));
    expect(hex(await e.read(8))).toBe('00 5b 00 00 00 00 00 00');
    await e.closed;
  });

  it('closes on garbage without a reply', async () => {
    const c = await RawClient.connect(server.address.port);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.readToEnd()).length).toBe(0);
    await c.closed;
    expect(log.some((e) => e.event === 'protocol-error' && e.code === 'ERR_SOCKS_BAD_VERSION')).toBe(true);
  });

  it('drops a client that sends half a greeting and goes silent, while serving others', async () => {
    const silent = await RawClient.connect(server.address.port);
    silent.send(fromHex('05 02'));
    // Meanwhile a well-behaved client is served in full.
    const c = await socks5();
    c.send(encodeSocks5Request({ command: 1, host: '127.0.0.1', port: echo.port }));
    expect(hex((await c.read(10)).subarray(0, 2))).toBe('05 00');
    c.send('still here');
    expect(String(await c.read(10))).toBe('still here');
    await silent.closed;
    expect(log.some((e) => e.code === 'ERR_SOCKS_HANDSHAKE_TIMEOUT')).toBe(true);
    c.destroy();
  });

  it('left nothing open', async () => {
    await server.whenIdle();
    await authServer.whenIdle();
    expect(server.stats()).toEqual({ connections: 0, bindListeners: 0, udpAssociations: 0 });
  });
});

describe('SOCKS server limits', () => {
  it('closes connections beyond maxConnections', async () => {
    const server = await SocksServer.start({ port: 0, maxConnections: 1 });
    try {
      const first = await RawClient.connect(server.address.port);
      const second = await RawClient.connect(server.address.port);
      await second.closed;
      first.send(fromHex('05 01 00'));
      expect(hex(await first.read(2))).toBe('05 00');
      first.destroy();
    } finally {
      await server.close();
    }
  });

  it('resets a relayed connection after the idle timeout', async () => {
    const echo = await startEcho();
    const server = await SocksServer.start({ port: 0, idleTimeoutMs: 200 });
    try {
      const c = await RawClient.connect(server.address.port);
      c.send(Buffer.concat([fromHex('05 01 00'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port: echo.port })]));
      expect(hex((await c.read(12)).subarray(0, 4))).toBe('05 00 05 00');
      await c.closed;
      expect(c.error).toBe('ECONNRESET');
      await server.whenIdle();
    } finally {
      await server.close();
      await echo.close();
    }
  });
});

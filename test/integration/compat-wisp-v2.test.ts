import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT, type JWTPayload } from 'jose';
// The real wisp-js client (npm @mercuryworkshop/wisp-js, LGPL-3.0, a dev dependency), not code of ours.
import { extensions as wispExtensions } from '@mercuryworkshop/wisp-js/client';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { WispCloseReason, WispStreamType, type WispPacket } from '../../shared/protocol/wisp-frame.ts';
import { decodeWispExtensions, WispExtensionId } from '../../shared/protocol/wisp-extensions.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { startEcho, startUdpEcho } from '../helpers/net.ts';
import { echo, mustOpen, openWisp, type WispConnection } from '../helpers/wisp.ts';
import { RawWisp } from '../helpers/raw-wisp.ts';
import { sha256 } from '../helpers/scripted-target.ts';

/**
 * Wisp v2 (docs/compat.md): the wisp-js client at its default (v2) in Node, TCP and UDP, direct and through a route
 * whose last hop is our SOCKS5 server; password auth mapped to the bridge's tokens; MOTD; and a raw client for the
 * bytes wisp-js does not show (the INFO the bridge sends, stream-open confirmation, CLOSE on stream 0).
 */

const TOKEN = 'a-bridge-session-token';
const MOTD = 'wsocks bridge: loopback only, be nice ✓';

const { UDPExtension, MOTDExtension, PasswordAuthExtension } = wispExtensions;

/** A UDP stream: sends each datagram once its echo came back; resolves with the echoes, or the close reason. */
function udpEcho(conn: WispConnection, host: string, port: number, datagrams: string[]): Promise<{ back: string[]; reason?: number }> {
  return new Promise((resolve) => {
    const s = conn.create_stream(host, port, 'udp');
    const back: string[] = [];
    s.onmessage = (d) => {
      back.push(Buffer.from(d).toString());
      if (back.length === datagrams.length) {
        s.close(WispCloseReason.VOLUNTARY);
        resolve({ back });
      } else s.send(Buffer.from(datagrams[back.length]!));
    };
    s.onclose = (reason) => resolve({ back, reason });
    s.send(Buffer.from(datagrams[0]!));
  });
}

const none = new Uint8Array(0);

describe('Wisp v2 endpoint', () => {
  let bridge: BridgeServer;
  let socks: SocksServer;
  let echoServer: Awaited<ReturnType<typeof startEcho>>;
  let udpServer: Awaited<ReturnType<typeof startUdpEcho>>;
  let greeter: { port: number; close(): Promise<void> };
  const logs: string[] = [];
  const socksLog: SocksLogEntry[] = [];
  let base: string;

  beforeAll(async () => {
    echoServer = await startEcho();
    udpServer = await startUdpEcho();
    // Greets at once on connect, then echoes.
    const server: Server = createServer((s) => {
      s.on('error', () => s.destroy());
      s.write('hello');
      s.pipe(s);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    greeter = { port: (server.address() as { port: number }).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    socks = await SocksServer.start({ port: 0 }, (e) => socksLog.push(e));
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        tokens: [TOKEN],
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: [echoServer.port, udpServer.port, greeter.port] }] },
        routes: { ours: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
        compat: {
          wisp: [
            { path: '/wisp/', motd: MOTD },
            { path: '/wisp-socks/', route: 'ours' },
            { path: '/wisp-tcp-only/', udp: false },
          ],
        },
      },
      { log: (l) => logs.push(l) },
    );
    base = `ws://127.0.0.1:${bridge.address.port}`;
  });

  afterAll(async () => {
    await bridge?.close();
    await socks?.close();
    await echoServer?.close();
    await udpServer?.close();
    await greeter?.close();
  });

  it('sends INFO first (v2.0: UDP, MOTD, stream-open confirmation; no password when the path has the token)', async () => {
    const raw = await RawWisp.open(`${base}/wisp/${TOKEN}/`);
    const info = await raw.next();
    expect(info).toMatchObject({ type: 'info', id: 0, major: 2, minor: 0 });
    const exts = decodeWispExtensions((info as Extract<WispPacket, { type: 'info' }>).extensions);
    if (!exts.ok) throw new Error(exts.error);
    expect(exts.extensions.map((e) => e.id)).toEqual([WispExtensionId.UDP, WispExtensionId.MOTD, WispExtensionId.STREAM_CONFIRMATION]);
    expect(Buffer.from(exts.extensions[1]!.payload).toString('utf8')).toBe(MOTD);
    raw.info([]);
    expect(await raw.next()).toEqual({ type: 'continue', id: 0, remaining: 128 });
    raw.ws.close();
  });

  it.each([
    ['direct', '/wisp/'],
    ['through a SOCKS5 route', '/wisp-socks/'],
  ])('wisp-js v2 echoes TCP byte-exact and UDP datagrams, %s', async (_name, path) => {
    const socksBefore = socksLog.length;
    const conn = await mustOpen(`${base}${path}${TOKEN}/`);
    expect(conn.wisp_version).toBe(2);
    expect(conn.udp_enabled).toBe(true);
    if (path === '/wisp/') expect(conn.server_motd).toBe(MOTD);
    const data = randomBytes(1024 * 1024 + 7);
    const tcp = await echo(conn, '127.0.0.1', echoServer.port, data);
    expect(tcp.reason).toBeUndefined();
    expect(sha256(tcp.back)).toBe(sha256(data));
    const seenBefore = udpServer.seen.length;
    const grams = ['one', 'two', 'x'.repeat(1200)];
    expect(await udpEcho(conn, '127.0.0.1', udpServer.port, grams)).toEqual({ back: grams });
    // Every datagram arrived whole, one per DATA packet, from the bridge (direct) or our SOCKS server's relay.
    expect(udpServer.seen.slice(seenBefore).map((s) => s.data)).toEqual(grams);
    // Through the route, our SOCKS server saw the CONNECT and the UDP ASSOCIATE; direct, nothing.
    const commands = socksLog.slice(socksBefore).filter((e) => e.event === 'request').map((e) => e.command);
    expect(commands).toEqual(path === '/wisp/' ? [] : ['connect', 'udp']);
    conn.close();
  });

  it('refuses UDP to a denied target with 0x48, however it is spelled, and UDP where the endpoint serves none with 0x41', async () => {
    const conn = await mustOpen(`${base}/wisp-socks/${TOKEN}/`);
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', '0x7f.1']) {
      expect(await udpEcho(conn, host, 9, ['x']), host).toEqual({ back: [], reason: WispCloseReason.BLOCKED });
    }
    expect((await echo(conn, '::ffff:7f00:1', 9, Buffer.from('x'))).reason).toBe(WispCloseReason.BLOCKED);
    conn.close();
    const tcpOnly = await mustOpen(`${base}/wisp-tcp-only/${TOKEN}/`);
    expect(tcpOnly.udp_enabled).toBe(false);
    tcpOnly.close();
    // A v1 client (wisp-js assumes UDP there) gets 0x41 for a UDP CONNECT.
    const v1 = await mustOpen(`${base}/wisp/${TOKEN}/`, { wisp_version: 1 });
    expect(v1.wisp_version).toBe(1);
    expect(await udpEcho(v1, '127.0.0.1', udpServer.port, ['x'])).toEqual({ back: [], reason: WispCloseReason.INVALID_INFO });
    v1.close();
  });

  it('password auth: wisp-js with the token as password gets in at the bare path; a wrong one is closed', async () => {
    const good = await mustOpen(`${base}/wisp/`, {
      wisp_extensions: [new UDPExtension({ client_config: {} }), new MOTDExtension({ client_config: {} }), new PasswordAuthExtension({ client_config: { username: 'anyone', password: TOKEN } })],
    });
    const data = randomBytes(50_000);
    expect(sha256((await echo(good, '127.0.0.1', echoServer.port, data)).back)).toBe(sha256(data));
    good.close();
    const bad = await openWisp(`${base}/wisp/`, {
      wisp_extensions: [new PasswordAuthExtension({ client_config: { username: 'anyone', password: 'not-the-token' } })],
    });
    expect(bad).toBe('closed');
    expect(logs.some((l) => l.includes('not-the-token'))).toBe(false);
  });

  it('password auth, raw: the server asks for it; wrong gets CLOSE 0xc0 and 4401, none gets 0xc2; a v1 client gets 401', async () => {
    const password = (user: string, pass: string) => {
      const u = Buffer.from(user);
      return { id: WispExtensionId.PASSWORD, payload: Buffer.concat([Buffer.of(u.length), u, Buffer.from(pass)]) };
    };
    for (const [exts, reason] of [
      [[password('me', 'wrong-token-value')], WispCloseReason.AUTH_FAILED],
      [[{ id: WispExtensionId.UDP, payload: none }], WispCloseReason.AUTH_REQUIRED],
    ] as const) {
      const raw = await RawWisp.open(`${base}/wisp/`);
      const info = (await raw.next()) as Extract<WispPacket, { type: 'info' }>;
      const offered = decodeWispExtensions(info.extensions);
      const asked = offered.ok ? offered.extensions.find((e) => e.id === WispExtensionId.PASSWORD) : undefined;
      expect([...(asked?.payload ?? [])]).toEqual([1]);
      raw.info([...exts]);
      // A CONNECT sent before the verdict is never served.
      raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: greeter.port, hostname: '127.0.0.1' });
      expect(await raw.next()).toEqual({ type: 'close', id: 0, reason });
      const end = await raw.closed;
      expect(end.code).toBe(4401);
      expect(end.reason).toMatch(/^ERR_UNAUTHORIZED /);
    }
    // Draft 6 spelling of the password extension (no password length), right token.
    const raw = await RawWisp.open(`${base}/wisp/`);
    await raw.next();
    raw.info([password('me', TOKEN)]);
    expect(await raw.next()).toEqual({ type: 'continue', id: 0, remaining: 128 });
    raw.ws.close();
    // No subprotocol: Wisp v1, which has no auth step; the token must be on the path.
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${base}/wisp/`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
  });

  it('confirms a stream open with CONTINUE before its data when the client lists 0x05, and not otherwise', async () => {
    for (const confirm of [true, false]) {
      const raw = await RawWisp.open(`${base}/wisp/${TOKEN}/`);
      await raw.next();
      raw.info(confirm ? [{ id: WispExtensionId.STREAM_CONFIRMATION, payload: none }] : []);
      expect(await raw.next()).toEqual({ type: 'continue', id: 0, remaining: 128 });
      raw.send({ type: 'connect', id: 5, streamType: WispStreamType.TCP, port: greeter.port, hostname: '127.0.0.1' });
      const first = await raw.next();
      if (confirm) {
        expect(first).toEqual({ type: 'continue', id: 5, remaining: 128 });
        expect(await raw.next()).toMatchObject({ type: 'data', id: 5 });
      } else expect(first).toMatchObject({ type: 'data', id: 5 });
      raw.ws.close();
      await raw.closed;
    }
  });

  it('closes a client that sends anything but INFO first (4400)', async () => {
    const raw = await RawWisp.open(`${base}/wisp/${TOKEN}/`);
    await raw.next();
    raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
    const end = await raw.closed;
    expect(end.code).toBe(4400);
    expect(end.reason).toContain('INFO');
  });
});

describe('Wisp with signed tokens: the token scope and expiry apply to its streams', () => {
  const SECRET = 'an-hmac-secret-of-at-least-32-characters!';
  let bridge: BridgeServer;
  let allowed: Awaited<ReturnType<typeof startEcho>>;
  let outside: Awaited<ReturnType<typeof startEcho>>;
  let base: string;

  const mint = (claims: JWTPayload, expSec = 600) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'k' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expSec)
      .sign(new TextEncoder().encode(SECRET));

  beforeAll(async () => {
    allowed = await startEcho();
    outside = await startEcho();
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      signedTokens: { keys: [{ kid: 'k', alg: 'HS256', secret: SECRET }], clockToleranceSec: 0 },
      // The bridge's policy allows both; the token narrows it to one.
      policy: { allow: [{ cidr: '127.0.0.1/32', ports: [allowed.port, outside.port] }] },
      compat: { wisp: [{ path: '/wisp/' }] },
    });
    base = `ws://127.0.0.1:${bridge.address.port}`;
  });

  afterAll(async () => {
    await bridge?.close();
    await allowed?.close();
    await outside?.close();
  });

  it('a stream outside the token targets is closed with 0x48, on the path (v1) and by password (v2)', async () => {
    const token = await mint({ wsocks: { targets: [{ cidr: '127.0.0.1/32', ports: [allowed.port] }] } });
    const v1 = await mustOpen(`${base}/wisp/${token}/`, { wisp_version: 1 });
    const v2 = await mustOpen(`${base}/wisp/`, { wisp_extensions: [new PasswordAuthExtension({ client_config: { username: 'u', password: token } })] });
    for (const conn of [v1, v2]) {
      expect((await echo(conn, '127.0.0.1', allowed.port, Buffer.from('in scope'))).back.toString()).toBe('in scope');
      expect((await echo(conn, '127.0.0.1', outside.port, Buffer.from('x'))).reason).toBe(WispCloseReason.BLOCKED);
      conn.close();
    }
  });

  it('the session ends with 4401 when the token expires', async () => {
    const token = await mint({}, 2);
    const raw = await RawWisp.open(`${base}/wisp/${token}/`);
    expect(await raw.next()).toMatchObject({ type: 'info' });
    raw.info([]);
    expect(await raw.next()).toEqual({ type: 'continue', id: 0, remaining: 128 });
    const end = await raw.closed;
    expect(end).toEqual({ code: 4401, reason: 'ERR_UNAUTHORIZED the token expired' });
  });
});

describe('Wisp v2: a client that never sends its INFO', () => {
  it('is closed with 4400 after limits.handshakeTimeoutMs, and holds nothing', async () => {
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', limits: { handshakeTimeoutMs: 300 }, compat: { wisp: [{ path: '/wisp/' }] } });
    try {
      const raw = await RawWisp.open(`ws://127.0.0.1:${bridge.address.port}/wisp/`);
      expect(await raw.next()).toMatchObject({ type: 'info' });
      const end = await raw.closed;
      expect(end.code).toBe(4400);
      expect(end.reason).toMatch(/^ERR_BAD_MESSAGE Wisp v2: no INFO from the client within 300 ms/);
      await expect.poll(() => bridge.stats().sessions).toBe(0);
    } finally {
      await bridge.close();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeWispPacket, decodeWispPacket, WispCloseReason } from '../../shared/protocol/wisp-frame.ts';
import { refusedPort, startEcho } from '../helpers/net.ts';
// The real wisp-js client (npm @mercuryworkshop/wisp-js, LGPL-3.0, a dev dependency), not code of ours.
import { echo, mustOpen } from '../helpers/wisp.ts';
import { sha256 } from '../helpers/scripted-target.ts';

/** Wisp v1 endpoints (docs/compat.md) with the wisp-js client in Node, and a raw client that ignores CONTINUE. */

const WINDOW = 64 * 1024;

/** A wisp-js connection, v1 unless told otherwise. */
const openWisp = (url: string, options: object = { wisp_version: 1 }) => mustOpen(url, options);

describe('Wisp v1 endpoint', () => {
  let bridge: BridgeServer;
  let socks: SocksServer;
  let echoServer: Awaited<ReturnType<typeof startEcho>>;
  let sink: { port: number; close(): Promise<void> };
  let closedPort: number;
  /** Sends 1 MiB and closes (FIN) at once. */
  let finisher: { port: number; sent: Buffer; close(): Promise<void> };
  const logs: string[] = [];
  let base: string;

  beforeAll(async () => {
    echoServer = await startEcho();
    closedPort = await refusedPort();
    // Accepts and never reads.
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.pause();
      s.on('error', () => s.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    sink = {
      port: (server.address() as { port: number }).port,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
    const sent = randomBytes(1024 * 1024);
    const fin: Server = createServer((s) => {
      s.on('error', () => s.destroy());
      s.end(sent);
    });
    fin.listen(0, '127.0.0.1');
    await once(fin, 'listening');
    finisher = { port: (fin.address() as { port: number }).port, sent, close: () => new Promise<void>((resolve) => fin.close(() => resolve())) };
    socks = await SocksServer.start({ port: 0 });
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        tokens: ['a-bridge-session-token'],
        policy: { allow: [{ cidr: '127.0.0.0/8', ports: [echoServer.port, closedPort, sink.port, finisher.port] }] },
        routes: { ours: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
        limits: { window: WINDOW, overloadTimeoutMs: 2000 },
        compat: { wisp: [{ path: '/wisp/' }, { path: '/wisp-socks/', route: 'ours' }] },
      },
      { log: (l) => logs.push(l) },
    );
    base = `ws://127.0.0.1:${bridge.address.port}`;
  });

  afterAll(async () => {
    await bridge.close();
    await socks.close();
    await echoServer.close();
    await sink.close();
    await finisher.close();
  });

  it.each([
    ['direct', '/wisp/'],
    ['through a SOCKS5 route', '/wisp-socks/'],
  ])('wisp-js echoes megabytes byte-exact on parallel streams, %s', async (_name, path) => {
    const conn = await openWisp(`${base}${path}a-bridge-session-token/`);
    const inputs = [randomBytes(2 * 1024 * 1024 + 3), randomBytes(300_000), randomBytes(1)];
    const results = await Promise.all(inputs.map((d) => echo(conn, '127.0.0.1', echoServer.port, d)));
    for (const [i, r] of results.entries()) {
      expect(r.reason).toBeUndefined();
      expect(sha256(r.back)).toBe(sha256(inputs[i]!));
    }
    conn.close();
  });

  it('serves a wisp-js client left at its default: it speaks v2 (compat-wisp-v2.test.ts) and its streams work', async () => {
    const conn = await openWisp(`${base}/wisp/a-bridge-session-token/`, {});
    expect(conn.wisp_version).toBe(2);
    const data = randomBytes(100_000);
    const r = await echo(conn, '127.0.0.1', echoServer.port, data);
    expect(sha256(r.back)).toBe(sha256(data));
    conn.close();
  });

  it('ends a stream with CLOSE 0x02 after every byte when the target closes (FIN)', async () => {
    const conn = await openWisp(`${base}/wisp/a-bridge-session-token/`);
    const s = conn.create_stream('127.0.0.1', finisher.port);
    const parts: Uint8Array[] = [];
    s.onmessage = (d) => parts.push(new Uint8Array(d));
    const reason = await new Promise<number>((resolve) => (s.onclose = resolve));
    expect(reason).toBe(WispCloseReason.VOLUNTARY);
    expect(sha256(Buffer.concat(parts))).toBe(sha256(finisher.sent));
    conn.close();
  });

  it('closes a stream to a denied target with 0x48 (blocked), however it is spelled, and a refused one with 0x44', async () => {
    const conn = await openWisp(`${base}/wisp/a-bridge-session-token/`);
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', '0x7f.1', '10.0.0.1']) {
      const r = await echo(conn, host, 9, Buffer.from('x'));
      expect(r.reason, host).toBe(WispCloseReason.BLOCKED);
    }
    const refused = await echo(conn, '127.0.0.1', closedPort, Buffer.from('x'));
    expect(refused.reason).toBe(WispCloseReason.REFUSED);
    conn.close();
  });

  it('refuses a missing or wrong token (401) before the upgrade', async () => {
    for (const path of ['/wisp/', '/wisp/wrong-token-here/']) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${base}${path}`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => {});
      });
      expect(status).toBe(401);
    }
  });

  it.each([1, 2])('keeps a v%i client that ignores CONTINUE within its bound: stops reading it, then closes it with 4008', async (version) => {
    const closedBefore = logs.filter((l) => l.includes('bytes waited toward one target')).length;
    const ws = new WebSocket(`${base}/wisp/a-bridge-session-token/`, version === 2 ? ['wisp-v2'] : []);
    const nextMessage = () => new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    let first = await nextMessage();
    if (version === 2) {
      // v2: the bridge's INFO, ours (no extensions), then the CONTINUE that opens the session.
      expect(decodeWispPacket(first)).toMatchObject({ ok: true, packet: { type: 'info', id: 0, major: 2 } });
      ws.send(encodeWispPacket({ type: 'info', id: 0, major: 2, minor: 0, extensions: new Uint8Array(0) }));
      first = await nextMessage();
    }
    expect(decodeWispPacket(first)).toEqual({ ok: true, packet: { type: 'continue', id: 0, remaining: 128 } });
    ws.send(encodeWispPacket({ type: 'connect', id: 7, streamType: 1, port: sink.port, hostname: '127.0.0.1' }));
    const packet = encodeWispPacket({ type: 'data', id: 7, data: randomBytes(32 * 1024) });
    let sent = 0;
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    // Sends far past the 128 packets CONTINUE allowed, as long as its own socket takes them (at most 256 MiB).
    const pump = () => {
      while (ws.readyState === ws.OPEN && ws.bufferedAmount < 4 * 1024 * 1024 && sent < 8192) {
        sent++;
        ws.send(packet, sent % 16 === 0 ? pump : undefined);
      }
    };
    ws.once('message', pump);
    pump();
    const end = await closed;
    expect(end.code).toBe(4008);
    expect(end.reason).toMatch(/^ERR_SESSION_OVERLOADED /);
    expect(sent).toBeGreaterThan(128);
    const closings = () => logs.filter((l) => l.includes('bytes waited toward one target'));
    await expect.poll(() => closings().length).toBe(closedBefore + 1);
    const line = closings().at(-1)!;
    const most = Number(/at most (\d+) bytes/.exec(line)![1]);
    // The stream's queue toward its target never went much past the window (a few messages ws had parsed already).
    expect(most).toBeGreaterThan(WINDOW);
    expect(most).toBeLessThanOrEqual(WINDOW + 8 * packet.length);
  });
});

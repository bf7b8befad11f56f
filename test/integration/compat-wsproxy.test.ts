import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { startEcho } from '../helpers/net.ts';
import { sha256 } from '../helpers/scripted-target.ts';

/** The legacy wsproxy path mode on a Wisp endpoint (docs/compat.md): `/wisp/[TOKEN/]HOST:PORT`, one connection. */

const TOKEN = 'a-bridge-session-token';
const SECRET = 'an-hmac-secret-of-at-least-32-characters!';

interface Outcome {
  code: number;
  reason: string;
  received: Buffer;
}

/** Sends `send`, reads as many bytes back (an echo), then closes; or collects until the bridge closes. */
function run(url: string, send: Buffer, protocols: string[] = []): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const parts: Buffer[] = [];
    let got = 0;
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      for (let at = 0; at < send.length; at += 65536) ws.send(send.subarray(at, at + 65536));
    });
    ws.on('message', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got === send.length) ws.close(1000);
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), received: Buffer.concat(parts) }));
  });
}

describe('wsproxy path mode', () => {
  let bridge: BridgeServer;
  let socks: SocksServer;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let other: Awaited<ReturnType<typeof startEcho>>;
  const socksLog: SocksLogEntry[] = [];
  let base: string;

  beforeAll(async () => {
    echo = await startEcho();
    other = await startEcho();
    socks = await SocksServer.start({ port: 0 }, (e) => socksLog.push(e));
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      tokens: [TOKEN],
      signedTokens: { keys: [{ kid: 'k', alg: 'HS256', secret: SECRET }] },
      policy: { allow: [{ cidr: '127.0.0.1/32', ports: [echo.port, other.port] }] },
      routes: { ours: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
      compat: {
        wisp: [
          { path: '/wisp/', wsproxy: true },
          { path: '/wisp-socks/', route: 'ours', wsproxy: true },
          { path: '/wisp-only/' },
        ],
      },
    });
    base = `ws://127.0.0.1:${bridge.address.port}`;
  });

  afterAll(async () => {
    await bridge?.close();
    await socks?.close();
    await echo?.close();
    await other?.close();
  });

  it.each([
    ['direct, no subprotocol', '/wisp/', []],
    ['direct, binary', '/wisp/', ['binary']],
    ['through the SOCKS5 route', '/wisp-socks/', []],
  ])('relays a megabyte byte-exact, %s', async (_name, path, protocols) => {
    const before = socksLog.length;
    const data = randomBytes(1024 * 1024 + 1);
    const out = await run(`${base}${path}${TOKEN}/127.0.0.1:${echo.port}`, data, protocols);
    expect(out.code).toBe(1000);
    expect(sha256(out.received)).toBe(sha256(data));
    const hops = socksLog.slice(before).filter((e) => e.event === 'request');
    expect(hops.map((e) => e.target)).toEqual(path === '/wisp-socks/' ? [`127.0.0.1:${echo.port}`] : []);
  });

  it('closes a denied target with 4001 ERR_POLICY_DENIED however it is spelled, and the hop never sees it', async () => {
    const before = socksLog.length;
    for (const target of ['127.0.0.1:9', '[::ffff:127.0.0.1]:9', '0x7f.1:9', '%5B%3A%3Affff%3A7f00%3A1%5D:9', '10.0.0.1:' + echo.port]) {
      const out = await run(`${base}/wisp-socks/${TOKEN}/${target}`, Buffer.alloc(0));
      expect(out.code, target).toBe(4001);
      expect(out.reason).toMatch(/^ERR_POLICY_DENIED /);
    }
    expect(socksLog.slice(before).filter((e) => e.event === 'request')).toEqual([]);
  });

  it('refuses before the upgrade: no token 401, a bad target 400; without wsproxy the path is not served as one', async () => {
    await expect(run(`${base}/wisp/127.0.0.1:${echo.port}`, Buffer.alloc(0))).rejects.toThrow('HTTP 401');
    await expect(run(`${base}/wisp/wrong-token-value/127.0.0.1:${echo.port}`, Buffer.alloc(0))).rejects.toThrow('HTTP 401');
    await expect(run(`${base}/wisp/${TOKEN}/127.0.0.1`, Buffer.alloc(0))).rejects.toThrow('HTTP 400');
    await expect(run(`${base}/wisp/${TOKEN}/127.0.0.1:0`, Buffer.alloc(0))).rejects.toThrow('HTTP 400');
    // Not a wsproxy path there: the wsocks.v1 endpoint's refusal (its token comes in a header or subprotocol).
    await expect(run(`${base}/wisp-only/${TOKEN}/127.0.0.1:${echo.port}`, Buffer.alloc(0))).rejects.toThrow('HTTP 401');
  });

  it('a signed token in the path: its targets narrow what the client may name (4001 ERR_TOKEN_SCOPE)', async () => {
    const jwt = await new SignJWT({ wsocks: { targets: [{ cidr: '127.0.0.1/32', ports: [echo.port] }] } })
      .setProtectedHeader({ alg: 'HS256', kid: 'k' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(new TextEncoder().encode(SECRET));
    const ok = await run(`${base}/wisp/${jwt}/127.0.0.1:${echo.port}`, Buffer.from('in scope'));
    expect(ok.received.toString()).toBe('in scope');
    const out = await run(`${base}/wisp/${jwt}/127.0.0.1:${other.port}`, Buffer.from('x'));
    expect(out.code).toBe(4001);
    expect(out.reason).toMatch(/^ERR_TOKEN_SCOPE /);
  });
});

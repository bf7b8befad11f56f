import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { sha256 } from '../helpers/scripted-target.ts';

/** websockify mode (docs/compat.md) with a real `ws` client: one WebSocket, one TCP connection. */

const UP = 3 * 1024 * 1024 + 17;
const DOWN = 4 * 1024 * 1024 + 5;

/**
 * Sends DOWN random bytes at once; reads UP bytes, then answers their sha256 (32 bytes) and closes (FIN). `mode:
 * 'reset'` resets the connection after the first bytes instead.
 */
async function startTarget(mode: 'sum' | 'reset' = 'sum') {
  const sockets = new Set<Socket>();
  const sent: Buffer[] = [];
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    const down = randomBytes(DOWN);
    sent.push(down);
    if (mode === 'reset') {
      // Once connected for sure (the client spoke first).
      // (A reset from inside a write callback goes out as a FIN: wait for the client's second message instead.)
      s.once('data', () => {
        s.write(down.subarray(0, 1000));
        s.once('data', () => s.resetAndDestroy());
      });
      return;
    }
    s.write(down);
    const parts: Buffer[] = [];
    let got = 0;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got === UP) s.end(createHash('sha256').update(Buffer.concat(parts)).digest());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    sent,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Outcome {
  code: number;
  reason: string;
  received: Buffer;
  protocol: string;
}

/** Opens the WebSocket, sends `send` (in 64 KiB messages) and collects everything until the close. */
function run(url: string, send: Buffer, protocols: string[] = ['binary'], replyToFirst?: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const parts: Buffer[] = [];
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      for (let at = 0; at < send.length; at += 65536) ws.send(send.subarray(at, at + 65536));
    });
    ws.on('message', (d: Buffer, isBinary) => {
      expect(isBinary).toBe(true);
      if (parts.length === 0 && replyToFirst) ws.send(replyToFirst);
      parts.push(d);
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), received: Buffer.concat(parts), protocol: ws.protocol }));
  });
}

describe('websockify endpoint', () => {
  let bridge: BridgeServer;
  let socks: SocksServer;
  let target: Awaited<ReturnType<typeof startTarget>>;
  let resetter: Awaited<ReturnType<typeof startTarget>>;
  const logs: string[] = [];
  let base: string;

  beforeAll(async () => {
    target = await startTarget();
    resetter = await startTarget('reset');
    socks = await SocksServer.start({ port: 0 });
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        tokens: ['a-bridge-session-token'],
        policy: { allow: [{ cidr: '127.0.0.0/8', ports: [target.port, resetter.port] }] },
        routes: { ours: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
        compat: {
          websockify: {
            path: '/websockify',
            targets: {
              'direct-token': { host: '127.0.0.1', port: target.port },
              'routed-token': { host: '127.0.0.1', port: target.port, route: 'ours' },
              'mapped-token': { host: '::ffff:127.0.0.1', port: target.port },
              'denied-token': { host: '127.0.0.1', port: 9 },
              'denied-mapped': { host: '0:0:0:0:0:ffff:7f00:1', port: 9 },
              'reset-token': { host: '127.0.0.1', port: resetter.port },
            },
          },
        },
      },
      { log: (l) => logs.push(l) },
    );
    base = `ws://127.0.0.1:${bridge.address.port}/websockify`;
  });

  afterAll(async () => {
    await bridge.close();
    await socks.close();
    await target.close();
    await resetter.close();
  });

  it.each([
    ['direct', 'direct-token', ['binary']],
    ['through a SOCKS5 route', 'routed-token', ['binary']],
    ['with no subprotocol', 'direct-token', []],
    ['to an IPv4-mapped spelling of an allowed address', 'mapped-token', ['binary']],
  ])('relays megabytes both ways byte-exact, %s, and ends with 1000 after the last byte', async (_name, token, protocols) => {
    const up = randomBytes(UP);
    const before = target.sent.length;
    const out = await run(`${base}?token=${token}`, up, protocols);
    expect(out.protocol).toBe(protocols[0] ?? '');
    expect(out.code).toBe(1000);
    const down = target.sent[before]!;
    expect(out.received.length).toBe(DOWN + 32);
    expect(sha256(out.received.subarray(0, DOWN))).toBe(sha256(down));
    expect(out.received.subarray(DOWN).toString('hex')).toBe(sha256(up));
    await expect.poll(() => bridge.stats().sessions).toBe(0);
  });

  it('closes with 4001 ERR_POLICY_DENIED for a denied target, however it is spelled, and never dials it', async () => {
    for (const token of ['denied-token', 'denied-mapped']) {
      const out = await run(`${base}?token=${token}`, Buffer.alloc(0));
      expect(out.code).toBe(4001);
      expect(out.reason).toMatch(/^ERR_POLICY_DENIED /);
    }
  });

  it('closes with 4000 ERR_STREAM_RESET when the target resets (after the bytes before it)', async () => {
    const out = await run(`${base}?token=reset-token`, Buffer.from('go'), ['binary'], Buffer.from('again'));
    expect(out.reason, logs.join('\n')).toMatch(/^ERR_STREAM_RESET /);
    expect(out.code).toBe(4000);
    expect(out.reason).toMatch(/^ERR_STREAM_RESET /);
    expect(out.received.length).toBe(1000);
  });

  /** base64 mode: sends `send` as base64 text messages (64 KiB of bytes each), collects the decoded text replies. */
  function runBase64(url: string, send: Buffer | string, protocols = ['base64']): Promise<Outcome & { texts: boolean }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const parts: Buffer[] = [];
      let texts = true;
      ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('error', reject);
      ws.on('open', () => {
        if (typeof send === 'string') return ws.send(send);
        for (let at = 0; at < send.length; at += 65536) ws.send(send.subarray(at, at + 65536).toString('base64'));
      });
      ws.on('message', (d: Buffer, isBinary) => {
        texts &&= !isBinary;
        parts.push(Buffer.from(d.toString('latin1'), 'base64'));
      });
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), received: Buffer.concat(parts), protocol: ws.protocol, texts }));
    });
  }

  it('serves websockify\'s base64 text mode: megabytes both ways byte-exact, binary preferred when both are offered', async () => {
    const up = randomBytes(UP);
    const before = target.sent.length;
    const out = await runBase64(`${base}?token=routed-token`, up);
    expect(out.protocol).toBe('base64');
    expect(out.texts).toBe(true);
    expect(out.code).toBe(1000);
    expect(sha256(out.received.subarray(0, DOWN))).toBe(sha256(target.sent[before]!));
    expect(out.received.subarray(DOWN).toString('hex')).toBe(sha256(up));
    const both = await run(`${base}?token=direct-token`, randomBytes(UP), ['base64', 'binary']);
    expect(both.protocol).toBe('binary');
  });

  it('base64 mode: a binary message or text that is not base64 ends it with 4001 ERR_BAD_MESSAGE', async () => {
    for (const bad of ['not base64!', 'QUJD=', 'QUJD\n']) {
      const out = await runBase64(`${base}?token=direct-token`, bad);
      expect(out.code, bad).toBe(4001);
      expect(out.reason).toMatch(/^ERR_BAD_MESSAGE /);
    }
    const binary = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base}?token=direct-token`, ['base64']);
      ws.on('open', () => ws.send(Buffer.from('QUJD')));
      ws.on('close', (code) => resolve(code));
    });
    expect(binary).toBe(4001);
  });

  it('refuses an unknown or missing token (401) and a wrong subprotocol (400), never logging the token', async () => {
    await expect(run(`${base}?token=not-a-known-token`, Buffer.alloc(0))).rejects.toThrow('HTTP 401');
    await expect(run(base, Buffer.alloc(0))).rejects.toThrow('HTTP 401');
    await expect(run(`${base}?token=direct-token`, Buffer.alloc(0), ['chat'])).rejects.toThrow('HTTP 400');
    expect(logs.join('\n')).not.toContain('not-a-known-token');
    expect(logs.join('\n')).not.toContain('direct-token');
  });

  it('checks the Origin like the wsocks.v1 endpoint', async () => {
    const denied = new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${base}?token=direct-token`, ['binary'], { origin: 'http://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    expect(await denied).toBe(403);
  });

  it('leaves the wsocks.v1 endpoint as it was (its token still required there)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${bridge.address.port}/`, []);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
    });
    expect(status).toBe(401);
  });
});

describe('websockify endpoint, a client that stops reading', () => {
  const BOUND = 64 * 1024;
  const TOTAL = 24 * 1024 * 1024;
  let bridge: BridgeServer;
  let server: Server;
  let blocked = false;
  let sent: Buffer;

  beforeAll(async () => {
    sent = randomBytes(TOTAL);
    // Writes TOTAL bytes as fast as its socket takes them, then closes; `blocked` while it waits for 'drain'.
    server = createServer((s) => {
      s.on('error', () => s.destroy());
      let at = 0;
      const pump = () => {
        blocked = false;
        while (at < TOTAL) {
          const ok = s.write(sent.subarray(at, at + 65536));
          at += 65536;
          if (!ok) {
            blocked = true;
            return void s.once('drain', pump);
          }
        }
        s.end();
      };
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8', ports: [port] }] },
      limits: { maxBufferedBytes: BOUND, maxMessageBytes: 16 * 1024 },
      compat: { websockify: { targets: { 'flood-token': { host: '127.0.0.1', port } } } },
    });
  });

  afterAll(async () => {
    await bridge.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('holds the target back within maxBufferedBytes, then delivers every byte and 1000 once the client reads', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.address.port}/websockify?token=flood-token`, ['binary']);
    await once(ws, 'open');
    ws.pause();
    await expect.poll(() => blocked && bridge.stats().bufferedBytes > BOUND / 2, { timeout: 60_000 }).toBe(true);
    // The bridge queued no more than its bound plus the chunk that crossed it.
    expect(bridge.stats().bufferedBytes).toBeLessThanOrEqual(BOUND + 65536);
    const parts: Buffer[] = [];
    ws.on('message', (d: Buffer) => parts.push(d));
    const closed = once(ws, 'close');
    ws.resume();
    const [code] = (await closed) as [number];
    expect(code).toBe(1000);
    expect(sha256(Buffer.concat(parts))).toBe(sha256(sent));
  });
});

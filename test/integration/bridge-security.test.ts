import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { openSession, roundTrip } from '../helpers/bridge.ts';
import { startEcho, type Running } from '../helpers/net.ts';

/**
 * Opens a raw WebSocket and resolves with the HTTP status of a refused upgrade, 101 once `hello` arrives, or the
 * close code (with its reason in `lastReason`) of a session refused after the upgrade.
 */
let lastReason = '';
function upgradeStatus(url: string, opts: { protocols?: string[]; origin?: string; headers?: Record<string, string> }): Promise<number> {
  const ws = new WebSocket(url, opts.protocols ?? ['wsocks.v1'], {
    ...(opts.origin ? { origin: opts.origin } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
  return new Promise((resolve) => {
    ws.once('unexpected-response', (_req, res: IncomingMessage) => resolve(res.statusCode ?? 0));
    ws.once('message', () => {
      ws.close();
      resolve(101);
    });
    ws.once('close', (code, reason) => {
      lastReason = reason.toString('utf8');
      resolve(code);
    });
    ws.once('error', () => {});
  });
}

/** A raw protocol client: sends JSON or frames, collects what the bridge says. */
async function rawSession(url: string) {
  const ws = new WebSocket(url, ['wsocks.v1']);
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(String(data)));
    for (const w of waiters.splice(0)) w();
  });
  await once(ws, 'open');
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  await next((m) => m.type === 'hello');
  return { ws, messages, next };
}

describe('bridge security', () => {
  let echo: Running & { connections: number };
  let socks: SocksServer;
  let open: BridgeServer;
  let locked: BridgeServer;

  beforeAll(async () => {
    echo = await startEcho();
    socks = await SocksServer.start({ port: 0 });
    // Default policy: loopback and private targets are denied. Client chains on, to test the chain rules.
    open = await BridgeServer.start({
      listen: '127.0.0.1:0',
      clientChains: true,
      policy: { allow: [{ cidr: '127.0.0.1', ports: String(socks.address.port) }], deny: [{ host: '*.blocked.test' }, { ports: '25' }] },
      // A route whose proxy is the policy boundary for names: localhost reaches the proxy's own loopback.
      routes: { proxied: { hops: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }], names: 'proxy' } },
      limits: { streamsPerSession: 3, maxMessageBytes: 4096, window: 1024 },
    });
    locked = await BridgeServer.start({
      listen: '127.0.0.1:0',
      tokens: ['correct-horse-battery'],
      origins: ['http://127.0.0.1:5173'],
      limits: { sessionsPerClient: 2 },
    });
  });
  afterAll(async () => {
    await open.close();
    await locked.close();
    await socks.close();
    await echo.close();
  });

  it.each([
    ['127.0.0.1'],
    ['::ffff:127.0.0.1'],
    ['localhost'],
    ['0.0.0.0'],
    ['::1'],
  ])('denies the loopback target %s by default, after resolving it', async (host) => {
    const session = await openSession(open.url);
    const socket = session.open({ host, port: echo.port }, { inspect: true });
    await expect(socket.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    expect(socket.transcript.some((e) => e.kind === 'policy' && /denied/.test(e.note ?? ''))).toBe(true);
    expect(echo).toBeDefined();
    session.close();
  });

  it('denies a client chain whose first hop is not allowed, and targets by name pattern and port through chains', async () => {
    const session = await openSession(open.url);
    const badHop = session.open({ host: 'example.com', port: 80 }, { via: [{ type: 'socks5', host: '127.0.0.2', port: socks.address.port }] });
    await expect(badHop.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    const byName = session.open({ host: 'www.blocked.test', port: 80 }, { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] });
    await expect(byName.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    const byPort = session.open({ host: 'mail.example', port: 25 }, { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] });
    await expect(byPort.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    // Through the allowed hop, the bridge still resolves and judges the target's name: localhost is loopback.
    const judged = session.open({ host: 'localhost', port: echo.port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] });
    await expect(judged.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED' });
    // A client chain's later hops are the previous proxy's targets: judged like the target, not trusted.
    const before = echo.connections;
    const hop2 = session.open(
      { host: '127.0.0.1', port: socks.address.port }, // an allowed literal: no DNS
      { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }, { type: 'socks5', host: '127.1', port: echo.port }] },
    );
    await expect(hop2.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED', message: expect.stringMatching(/^127\.0\.0\.1:\d+: 127\.0\.0\.1 is in 127\.0\.0\.0\/8/) });
    expect(echo.connections).toBe(before);
    // A route marked names: "proxy" hands the name to its proxy, which may reach loopback itself.
    const ok = session.open({ host: 'localhost', port: echo.port }, { route: 'proxied' });
    expect(await roundTrip(await ok.opened, 'through')).toBe('through');
    session.close();
  });

  it('asks for a token, compares it, and checks Origin', async () => {
    const url = locked.url;
    const origin = 'http://127.0.0.1:5173';
    // Offering wsocks.v1: accepted, then closed with the refusal's code and `<CODE> <message>` (browsers see this).
    expect(await upgradeStatus(url, { origin })).toBe(4401);
    expect(lastReason).toBe('ERR_UNAUTHORIZED missing or wrong token');
    expect(await upgradeStatus(url, { origin, protocols: ['wsocks.v1', 'wsocks.token.wrong-token-here'] })).toBe(4401);
    expect(await upgradeStatus(url, { origin: 'http://evil.test', protocols: ['wsocks.v1', 'wsocks.token.correct-horse-battery'] })).toBe(4403);
    expect(lastReason).toMatch(/^ERR_ORIGIN_DENIED /);
    expect(await upgradeStatus(url, { protocols: ['wsocks.v1', 'wsocks.token.correct-horse-battery'] })).toBe(4403);
    // A long, non-ASCII Origin still gives a reason of at most 123 bytes, cut at a character boundary.
    expect(await upgradeStatus(url, { origin: `http://${'\u00e9'.repeat(300)}.test`, headers: { authorization: 'Bearer correct-horse-battery' } })).toBe(4403);
    expect(Buffer.byteLength(lastReason)).toBeLessThanOrEqual(123);
    expect(lastReason).not.toContain('\ufffd');
    // Not offering it: the HTTP refusal with its JSON body.
    expect(await upgradeStatus(url, { origin, protocols: ['other'] })).toBe(401);
    expect(await upgradeStatus(url, { origin, protocols: ['wsocks.v1', 'wsocks.token.correct-horse-battery'] })).toBe(101);
    expect(await upgradeStatus(url, { origin, headers: { authorization: 'Bearer correct-horse-battery' } })).toBe(101);
    // Without `origins`, a browser must be same-origin; clients without Origin are let in.
    expect(await upgradeStatus(open.url, { origin: 'http://evil.test' })).toBe(4403);
    expect(await upgradeStatus(open.url, { origin: `http://127.0.0.1:${open.address.port}` })).toBe(101);
  });

  it('limits sessions per client address', async () => {
    const headers = { authorization: 'Bearer correct-horse-battery', origin: 'http://127.0.0.1:5173' };
    const a = new WebSocket(locked.url, ['wsocks.v1'], { headers });
    const b = new WebSocket(locked.url, ['wsocks.v1'], { headers });
    await Promise.all([once(a, 'open'), once(b, 'open')]);
    expect(await upgradeStatus(locked.url, { origin: 'http://127.0.0.1:5173', headers: { authorization: 'Bearer correct-horse-battery' } })).toBe(4429);
    expect(lastReason).toBe('ERR_TOO_MANY_SESSIONS at most 2 sessions per client address');
    a.close();
    b.close();
    await locked.whenIdle();
  });

  it('answers malformed messages with coded errors and keeps the session', async () => {
    const { ws, next, messages } = await rawSession(open.url);
    ws.send('not json');
    expect(await next((m) => m.type === 'error')).toMatchObject({ code: 'ERR_BAD_MESSAGE', message: 'control messages are JSON' });
    ws.send(JSON.stringify({ type: 'open', id: 7, host: 'x', port: 70000, window: 1024 }));
    expect(await next((m) => m.type === 'error' && m.id === 7)).toMatchObject({ code: 'ERR_BAD_MESSAGE', message: expect.stringMatching(/^port:/) });
    // Each type is checked against its own schema: the answer names the field (or the unknown type) at fault.
    ws.send(JSON.stringify({ type: 'teleport', id: 1 }));
    expect(await next((m) => m.type === 'error' && m.id === 1)).toMatchObject({ code: 'ERR_BAD_MESSAGE', message: expect.stringMatching(/^type: .*'open' \| 'credit' \| 'end' \| 'close'/) });
    ws.send(JSON.stringify({ type: 'credit', id: 5, bytes: 0 }));
    expect(await next((m) => m.type === 'error' && m.id === 5)).toMatchObject({ code: 'ERR_BAD_MESSAGE', message: expect.stringMatching(/^bytes:/) });
    ws.send(new Uint8Array([0, 0, 1]));
    await next((m) => m.type === 'error' && m.code === 'ERR_BAD_FRAME');
    ws.send(JSON.stringify({ type: 'open', id: 9, host: 'a.test', port: 80, route: 'nope', window: 1024 }));
    expect(await next((m) => m.id === 9)).toMatchObject({ code: 'ERR_UNKNOWN_ROUTE' });
    // Still serving: a good open works on the same WebSocket.
    ws.send(JSON.stringify({ type: 'open', id: 11, host: 'localhost', port: echo.port, window: 1024, route: 'proxied' }));
    expect(await next((m) => m.id === 11)).toMatchObject({ type: 'opened' });
    // Opening an id in use is refused without ending the stream that has it.
    ws.send(JSON.stringify({ type: 'open', id: 11, host: 'localhost', port: echo.port, window: 1024, route: 'proxied' }));
    expect(await next((m) => m.code === 'ERR_STREAM_EXISTS')).toMatchObject({ type: 'error', message: 'stream 11 is already open' });
    expect(messages.find((m) => m.code === 'ERR_STREAM_EXISTS')).not.toHaveProperty('id');
    expect(messages.filter((m) => m.type === 'error').length).toBe(7);
    ws.close();
  });

  it('stops a stream that sends beyond its credit, and refuses streams past the limit', async () => {
    const { ws, next } = await rawSession(open.url);
    ws.send(JSON.stringify({ type: 'open', id: 1, host: 'localhost', port: echo.port, window: 1024, route: 'proxied' }));
    const opened = await next((m) => m.id === 1 && m.type === 'opened');
    expect(opened.window).toBe(1024);
    ws.send(encodeDataFrame(1, new Uint8Array(2000)));
    expect(await next((m) => m.id === 1 && m.type === 'error')).toMatchObject({ code: 'ERR_FLOW_CONTROL' });
    for (const id of [2, 3, 4, 5]) ws.send(JSON.stringify({ type: 'open', id, host: 'localhost', port: echo.port, window: 1024, route: 'proxied' }));
    expect(await next((m) => m.id === 5 && m.type === 'error')).toMatchObject({ code: 'ERR_TOO_MANY_STREAMS' });
    ws.close();
  });

  it('closes a session that sends an oversized message with 1009, and no other session notices', async () => {
    const bystander = await openSession(open.url);
    const { ws } = await rawSession(open.url);
    ws.send(new Uint8Array(10_000));
    const [code] = await once(ws, 'close');
    expect(code).toBe(1009);
    const ok = bystander.open({ host: 'localhost', port: echo.port }, { route: 'proxied' });
    expect(await roundTrip(await ok.opened, 'unharmed')).toBe('unharmed');
    bystander.close();
    await open.whenIdle();
    expect(open.stats()).toEqual({ sessions: 0, streams: 0, bufferedBytes: 0 });
  });
});

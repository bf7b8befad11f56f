import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { openSession, readAll, roundTrip } from '../helpers/bridge.ts';
import { refusedPort, startCountThenReply, startEcho, startEchoOnBothLoopbacks, type Running } from '../helpers/net.ts';

// ::1 too: on a machine whose /etc/hosts maps localhost to ::1 as well, a name passes on only if each address is allowed.
const loopbackAllowed = { allow: [{ cidr: '127.0.0.0/8' }, { cidr: '::1/128' }] };

describe('bridge: direct streams and one SOCKS hop through our server', () => {
  let echo: Running;
  let counter: Running;
  let socks: SocksServer;
  let socksAuth: SocksServer;
  let bridge: BridgeServer;

  beforeAll(async () => {
    echo = await startEcho();
    counter = await startCountThenReply();
    socks = await SocksServer.start({ port: 0 });
    socksAuth = await SocksServer.start({ port: 0, users: [{ username: 'corp', password: 'hunter22' }] });
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: loopbackAllowed,
      clientChains: true,
      routes: {
        corp: [{ type: 'socks5', host: '127.0.0.1', port: socksAuth.address.port, username: 'corp', password: 'hunter22' }],
      },
    });
  });
  afterAll(async () => {
    await bridge.close();
    await socks.close();
    await socksAuth.close();
    await echo.close();
    await counter.close();
  });

  it('opens a direct stream and echoes bytes', async () => {
    const session = await openSession(bridge.url);
    const socket = session.open({ host: '127.0.0.1', port: echo.port });
    const info = await socket.opened;
    expect(info).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: echo.port });
    expect(await roundTrip(info, 'hello bridge')).toBe('hello bridge');
    socket.close();
    await socket.closed;
    session.close();
    await session.closed;
  });

  it.each(['socks4', 'socks4a', 'socks5'] as const)('goes through one %s hop described by the client', async (type) => {
    const session = await openSession(bridge.url);
    const socket = session.open(
      { host: type === 'socks4' ? '127.0.0.1' : 'localhost', port: echo.port },
      { via: [{ type, host: '127.0.0.1', port: socks.address.port }], inspect: true },
    );
    const info = await socket.opened;
    expect(await roundTrip(info, `via ${type}`)).toBe(`via ${type}`);
    const kinds = socket.transcript.filter((e) => e.hop === 1).map((e) => `${e.direction} ${e.kind}`);
    expect(kinds).toEqual(
      type === 'socks5'
        ? ['sent socks5.greeting', 'received socks5.method', 'sent socks5.request', 'received socks5.reply']
        : ['sent socks4.request', 'received socks4.reply'],
    );
    if (type === 'socks5') {
      const greeting = socket.transcript.find((e) => e.kind === 'socks5.greeting')!;
      expect(greeting.hex).toBe('05 01 00');
      expect(greeting.fields.map((f) => f.name)).toEqual(['socks.version', 'socks.auth_method_count', 'socks.auth_method']);
    }
    session.close();
  });

  it('uses a named route with server-side credentials, masked in the transcript', async () => {
    const session = await openSession(bridge.url);
    expect(session.info?.routes).toEqual(['corp']);
    const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route: 'corp', inspect: true });
    expect(await roundTrip(await socket.opened, 'corp route')).toBe('corp route');
    const auth = socket.transcript.find((e) => e.kind === 'socks5.auth')!;
    // Masked bytes read `**`: the hex never pretends to be what was sent.
    expect(auth.hex).toBe('01 04 63 6f 72 70 08 ** ** ** ** ** ** ** **');
    expect(auth.fields.find((f) => f.label === 'PASSWD')).toMatchObject({ masked: true, value: '(masked, 8 bytes)' });
    expect(JSON.stringify(socket.transcript)).not.toContain('hunter22');
    expect(JSON.stringify(socket.transcript)).not.toContain('68 75 6e 74 65 72 32 32');
    session.close();
  });

  it('masks client-supplied credentials too: no password travels back (the page keeps its own)', async () => {
    const session = await openSession(bridge.url);
    const socket = session.open(
      { host: '127.0.0.1', port: echo.port },
      { via: [{ type: 'socks5', host: '127.0.0.1', port: socksAuth.address.port, username: 'corp', password: 'hunter22' }], inspect: true },
    );
    await socket.opened;
    const auth = socket.transcript.find((e) => e.kind === 'socks5.auth')!;
    expect(auth.hex).toBe('01 04 63 6f 72 70 08 ** ** ** ** ** ** ** **');
    expect(auth.fields.find((f) => f.label === 'PASSWD')).toMatchObject({ masked: true, length: 8 });
    expect(JSON.stringify(socket.transcript)).not.toContain('hunter22');
    session.close();
  });

  it('names the hop and the reply code when a hop fails', async () => {
    const session = await openSession(bridge.url);
    const port = await refusedPort();
    const socket = session.open({ host: '127.0.0.1', port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] });
    await expect(socket.opened).rejects.toMatchObject({ code: 'ERR_HOP_FAILED', hop: 1, replyCode: 5 });
    await expect(socket.closed).rejects.toMatchObject({ code: 'ERR_HOP_FAILED' });
    const wrong = session.open(
      { host: '127.0.0.1', port: echo.port },
      { via: [{ type: 'socks5', host: '127.0.0.1', port: socksAuth.address.port, username: 'corp', password: 'nope' }] },
    );
    await expect(wrong.opened).rejects.toMatchObject({ code: 'ERR_HOP_FAILED', hop: 1, message: expect.stringMatching(/rejected the username or password/) });
    const direct = session.open({ host: '127.0.0.1', port });
    await expect(direct.opened).rejects.toMatchObject({ code: 'ERR_CONNECT_FAILED', replyCode: 5 });
    session.close();
  });

  it('carries a half-close: FIN to the target, and the answer still comes back', async () => {
    const session = await openSession(bridge.url);
    const socket = session.open({ host: '127.0.0.1', port: counter.port });
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await writer.write(new Uint8Array(300_000));
    await writer.close();
    expect(String(await readAll(info))).toBe('got 300000 bytes');
    await socket.closed;
    session.close();
  });

  it('runs many concurrent streams on one WebSocket', async () => {
    const session = await openSession(bridge.url);
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const socket = session.open({ host: '127.0.0.1', port: echo.port });
        const text = `stream ${i} `.repeat(500);
        const back = await roundTrip(await socket.opened, text);
        socket.close();
        return back === text;
      }),
    );
    expect(results.every(Boolean)).toBe(true);
    session.close();
    await session.closed;
  });

  it('is idle again: no sessions, no streams', async () => {
    await bridge.whenIdle();
    expect(bridge.stats()).toEqual({ sessions: 0, streams: 0, bufferedBytes: 0 });
  });

  it('refuses a raw WebSocket without the subprotocol', async () => {
    const ws = new WebSocket(bridge.url);
    const [res] = await new Promise<[import('node:http').IncomingMessage]>((resolve) => ws.once('unexpected-response', (_req, r) => resolve([r])));
    expect(res.statusCode).toBe(400);
  });
});

describe('bridge: name resolution, timeouts and keepalive', () => {
  let echo: Running;
  let socks: SocksServer;
  beforeAll(async () => {
    // localhost may be ::1 first: the address the bridge checks and passes on must reach the echo either way.
    echo = await startEchoOnBothLoopbacks();
    socks = await SocksServer.start({ port: 0 });
  });
  afterAll(async () => {
    await socks.close();
    await echo.close();
  });

  it('judges names itself, then passes on the checked address (socks4, resolve "local") or the name', async () => {
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', clientChains: true, policy: loopbackAllowed });
    try {
      const session = await openSession(bridge.url);
      const cases = [
        { type: 'socks4' as const, expect: 'socks.dst', local: true },
        { type: 'socks4a' as const, expect: 'socks.v4a_dns_name', local: false },
        { type: 'socks5' as const, expect: 'socks.remote_name', local: false },
        { type: 'socks5' as const, resolve: 'local' as const, expect: 'socks.dst', local: true },
      ];
      for (const c of cases) {
        const { expect: field, local, ...rest } = c;
        const socket = session.open({ host: 'localhost', port: echo.port }, { via: [{ ...rest, host: '127.0.0.1', port: socks.address.port }], inspect: true });
        await socket.opened;
        const request = socket.transcript.find((e) => e.kind.endsWith('.request'))!;
        // An address the bridge checked is IPv4 or, where localhost is ::1 first, IPv6 (socks.dstV6).
        const names = request.fields.map((f) => (f.name === 'socks.dstV6' ? 'socks.dst' : f.name));
        expect(names, JSON.stringify(c)).toContain(field);
        // The bridge always resolves and judges the name first; then it passes on the checked address or the name.
        const notes = socket.transcript.filter((e) => e.kind === 'resolve').map((e) => e.note ?? '');
        expect(notes[0]).toMatch(/^localhost resolved to .* by the bridge$/);
        expect(notes[1]).toMatch(local ? /hop 1 is asked for .*, the address the bridge checked/ : /passed to hop 1, which resolves it/);
        socket.close();
      }
      session.close();
    } finally {
      await bridge.close();
    }
  });

  it('gives up on a hop that accepts but never answers, naming the hop', async () => {
    const { createServer } = await import('node:net');
    const mute = createServer((s) => s.on('error', () => {}));
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', clientChains: true, policy: loopbackAllowed, limits: { handshakeTimeoutMs: 300 } });
    try {
      const session = await openSession(bridge.url);
      const socket = session.open({ host: 'localhost', port: 80 }, { via: [{ type: 'socks5', host: '127.0.0.1', port: (mute.address() as { port: number }).port }] });
      await expect(socket.opened).rejects.toMatchObject({ code: 'ERR_TIMEOUT', hop: 1, replyCode: 6 });
      session.close();
    } finally {
      await bridge.close();
      mute.close();
    }
  });

  it('pings, and drops a session that does not answer', async () => {
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', limits: { pingIntervalMs: 100 } });
    try {
      const answering = new WebSocket(bridge.url, ['wsocks.v1']);
      const mute = new WebSocket(bridge.url, ['wsocks.v1'], { autoPong: false });
      await Promise.all([once(answering, 'ping'), once(mute, 'ping')]);
      await once(mute, 'close');
      expect(answering.readyState).toBe(WebSocket.OPEN);
      expect(answering.protocol).toBe('wsocks.v1');
      answering.close();
    } finally {
      await bridge.close();
    }
  });
});

/**
 * The client library never takes its host down and says why a session ended: a bridge that is down, refuses the
 * upgrade or closes with a coded reason; open() on a closed session; abort and timeouts; events; reconnecting().
 * A real bridge where it has the behaviour, else a tiny real `ws` server that speaks just enough of the protocol.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { connect, reconnecting, SessionCloseEvent, SessionErrorEvent, WsocksError, type Session, type WebSocketConstructor } from '../../web/client/index.ts';
import { openSession, roundTrip } from '../helpers/bridge.ts';
import { refusedPort, startEcho, type Running } from '../helpers/net.ts';

const WS = WebSocket as unknown as WebSocketConstructor;
const HELLO = JSON.stringify({ type: 'hello', version: 1, limits: { maxStreams: 8, maxMessageBytes: 65536, window: 65536 }, routes: [], clientChains: false });

/** A tiny WebSocket server that accepts `wsocks.v1` and then does what `onSession` says. */
async function fakeBridge(onSession: (ws: WebSocket) => void, onMessage: (ws: WebSocket, m: { type: string }) => void = () => {}): Promise<{ url: string; sessions: number; messages: string[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('wsocks.v1') ? 'wsocks.v1' : false) });
  await once(wss, 'listening');
  const state = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    sessions: 0,
    messages: [] as string[],
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('connection', (ws) => {
    state.sessions++;
    ws.on('message', (d, binary) => {
      if (binary) return;
      state.messages.push(String(d));
      onMessage(ws, JSON.parse(String(d)));
    });
    onSession(ws);
  });
  return state;
}

async function rejection(p: Promise<unknown>): Promise<WsocksError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WsocksError);
  return err as WsocksError;
}

describe('client: connect() failures are coded rejections, never a crash', () => {
  it('rejects with ERR_BRIDGE_UNREACHABLE when nothing listens', async () => {
    const port = await refusedPort();
    const err = await rejection(connect(`ws://127.0.0.1:${port}/`, { WebSocket: WS }));
    expect(err.code).toBe('ERR_BRIDGE_UNREACHABLE');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('rejects with ERR_BRIDGE_UNREACHABLE when the upgrade gets an HTTP refusal', async () => {
    const http: Server = createServer((_req, res) => res.end());
    http.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const err = await rejection(connect(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, { WebSocket: WS }));
    expect(err.code).toBe('ERR_BRIDGE_UNREACHABLE');
    expect(err.message).toMatch(/403/);
    http.close();
  });

  it('rejects a bad URL with a coded error', async () => {
    const err = await rejection(connect('not a url', { WebSocket: WS }));
    expect(err.code).toBe('ERR_BRIDGE_UNREACHABLE');
  });

  it.each([
    [4401, 'ERR_UNAUTHORIZED'],
    [4403, 'ERR_ORIGIN_DENIED'],
    [4429, 'ERR_TOO_MANY_SESSIONS'],
    [4503, 'ERR_BRIDGE_FULL'],
    [1001, 'ERR_SHUTTING_DOWN'],
  ])('a session refused with close %i rejects connect() with %s and the reason', async (closeCode, code) => {
    const fake = await fakeBridge((ws) => ws.close(closeCode, `${code} refused for this test`));
    const err = await rejection(connect(fake.url, { WebSocket: WS }));
    expect(err).toMatchObject({ code, closeCode, message: 'refused for this test' });
    await fake.close();
  });

  it('times out when the bridge never says hello, and can be aborted', async () => {
    const fake = await fakeBridge(() => {});
    expect((await rejection(connect(fake.url, { WebSocket: WS, timeout: 200 }))).code).toBe('ERR_TIMEOUT');
    const ac = new AbortController();
    const p = connect(fake.url, { WebSocket: WS, signal: ac.signal });
    ac.abort(new Error('user left'));
    const err = await rejection(p);
    expect(err.code).toBe('ERR_ABORTED');
    expect((await rejection(connect(fake.url, { WebSocket: WS, signal: ac.signal }))).code).toBe('ERR_ABORTED');
    await fake.close();
  });
});

describe('client: a session, its streams and how it ends', () => {
  let echo: Running;
  let bridge: BridgeServer;
  beforeAll(async () => {
    echo = await startEcho();
    bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, tokens: ['sesame-sesame-sesame'] });
  });
  afterAll(async () => {
    await bridge.close();
    await echo.close();
  });

  it('a real bridge refusing a wrong token, or a session over its limits, rejects connect() with the code', async () => {
    expect(await rejection(connect(bridge.url, { WebSocket: WS, token: 'wrong-wrong-wrong' }))).toMatchObject({ code: 'ERR_UNAUTHORIZED', closeCode: 4401 });
    const small = await BridgeServer.start({ listen: '127.0.0.1:0', limits: { sessionsPerClient: 1 } });
    const first = await openSession(small.url);
    expect(await rejection(connect(small.url, { WebSocket: WS }))).toMatchObject({ code: 'ERR_TOO_MANY_SESSIONS', closeCode: 4429 });
    await first.close();
    await small.close();
  });

  it('a real bridge at its global limit refuses with ERR_BRIDGE_FULL; a draining one ends sessions with ERR_SHUTTING_DOWN', async () => {
    const small = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, limits: { maxSessions: 1 } });
    const first = await openSession(small.url);
    expect(await rejection(connect(small.url, { WebSocket: WS }))).toMatchObject({ code: 'ERR_BRIDGE_FULL', closeCode: 4503 });
    const socket = first.open({ host: '127.0.0.1', port: echo.port });
    await socket.opened;
    const events: string[] = [];
    first.addEventListener('close', (e) => events.push(`${e.code} ${e.error?.code}`));
    const drained = small.drain(60_000);
    // The session keeps its stream while the bridge drains; it is closed once the stream ends.
    await socket.close();
    expect(await rejection(first.closed)).toMatchObject({ code: 'ERR_SHUTTING_DOWN', closeCode: 1001 });
    expect(events).toEqual(['1001 ERR_SHUTTING_DOWN']);
    await drained;
  });

  it('has info once connected; opens by host, hostname and "host:port"; close() resolves; closed carries the code', async () => {
    const session = await openSession(bridge.url, { token: 'sesame-sesame-sesame' });
    expect(session.info.limits.maxStreams).toBeGreaterThan(0);
    for (const target of [{ host: '127.0.0.1', port: echo.port }, { hostname: '127.0.0.1', port: echo.port }, `127.0.0.1:${echo.port}`]) {
      const socket = session.open(target);
      expect(await roundTrip(await socket.opened, 'ping')).toBe('ping');
      await socket.close();
      await socket.closed;
    }
    const events: string[] = [];
    session.addEventListener('close', (e) => events.push(`close ${e.code} ${e.error === undefined}`));
    await session.close();
    expect(await session.closed).toMatchObject({ code: 1000, local: true });
    expect(events).toEqual(['close 1000 true']);
    // open() on a closed session fails at once, with no round trip.
    const late = session.open({ host: '127.0.0.1', port: echo.port });
    expect((await rejection(late.opened)).code).toBe('ERR_SESSION_CLOSED');
    expect((await rejection(session.openUdp(null).opened)).code).toBe('ERR_SESSION_CLOSED');
  });

  it('a stream can be aborted, and times out when it does not open', async () => {
    const session = await openSession(bridge.url, { token: 'sesame-sesame-sesame' });
    const ac = new AbortController();
    const socket = session.open({ host: '127.0.0.1', port: echo.port }, { signal: ac.signal });
    const info = await socket.opened;
    expect(await roundTrip(info, 'before abort')).toBe('before abort');
    ac.abort();
    expect((await rejection(socket.closed)).code).toBe('ERR_ABORTED');
    await session.close();

    const fake = await fakeBridge((ws) => ws.send(HELLO));
    const quiet = await connect(fake.url, { WebSocket: WS });
    const slow = quiet.open({ host: '127.0.0.1', port: 9 }, { timeout: 100 });
    expect((await rejection(slow.opened)).code).toBe('ERR_TIMEOUT');
    // The bridge is told to drop the stream it never opened.
    await expect.poll(() => fake.messages.map((m) => JSON.parse(m).type)).toEqual(['open', 'close']);
    await quiet.close();
    await fake.close();
  });
});

describe('client: sessions the bridge ends', () => {
  it.each([
    [4008, 'ERR_SESSION_OVERLOADED'],
    [1001, 'ERR_SHUTTING_DOWN'],
    [4400, 'ERR_BAD_MESSAGE'],
  ])('close %i after hello: closed rejects with %s, streams fail with it, events fire', async (closeCode, code) => {
    let server!: WebSocket;
    const fake = await fakeBridge((ws) => {
      server = ws;
      ws.send(HELLO);
    });
    const session = await connect(fake.url, { WebSocket: WS });
    const socket = session.open({ host: '127.0.0.1', port: 7 });
    const events: Array<SessionCloseEvent | SessionErrorEvent> = [];
    session.addEventListener('error', (e) => events.push(e));
    session.addEventListener('close', (e) => events.push(e));
    server.close(closeCode, `${code} the test says so`);
    const err = await rejection(session.closed);
    expect(err).toMatchObject({ code, closeCode, message: 'the test says so' });
    expect((await rejection(socket.opened)).code).toBe(code);
    expect(events.map((e) => e.type)).toEqual(['error', 'close']);
    expect((events[1] as SessionCloseEvent).error).toBe(err);
    await fake.close();
  });

  it('a drop without a reason after hello is ERR_SESSION_CLOSED with the close code', async () => {
    let server!: WebSocket;
    const fake = await fakeBridge((ws) => {
      server = ws;
      ws.send(HELLO);
    });
    const session = await connect(fake.url, { WebSocket: WS });
    server.terminate();
    expect(await rejection(session.closed)).toMatchObject({ code: 'ERR_SESSION_CLOSED', closeCode: 1006 });
    await fake.close();
  });

  it('reports a session-level bridge error as an error event', async () => {
    const fake = await fakeBridge(
      (ws) => ws.send(HELLO),
      (ws) => ws.send(JSON.stringify({ type: 'error', code: 'ERR_BAD_MESSAGE', message: 'that was not JSON' })),
    );
    const session = await connect(fake.url, { WebSocket: WS });
    const event = new Promise<SessionErrorEvent>((resolve) => session.addEventListener('error', resolve, { once: true }));
    session.sendControl({ type: 'nonsense' });
    const { error } = await event;
    expect(error).toMatchObject({ code: 'ERR_BAD_MESSAGE', message: 'that was not JSON' });
    expect(session.lastError).toBe(error);
    await session.close();
    await fake.close();
  });

  it('ignores messages that do not match the protocol', async () => {
    const fake = await fakeBridge((ws) => ws.send(HELLO), (ws) => {
      ws.send(JSON.stringify({ type: 'opened', id: 1, remoteAddress: '1.2.3.4', remotePort: 1, window: -5 }));
      ws.send(JSON.stringify({ type: 'opened', id: 1, remoteAddress: '1.2.3.4', remotePort: 1, window: 10, extra: true }));
      ws.send('{not json');
      ws.send(JSON.stringify({ type: 'error', id: 1, code: 'ERR_CONNECT_FAILED', message: 'after the junk' }));
    });
    const session = await connect(fake.url, { WebSocket: WS });
    const socket = session.open({ host: '127.0.0.1', port: 7 });
    expect((await rejection(socket.opened)).code).toBe('ERR_CONNECT_FAILED');
    await session.close();
    await fake.close();
  });

  it('survives a bridge that ignores the protocol: data before opened, opened twice, data beyond the credit', async () => {
    const frame = (id: number, bytes: Uint8Array) => Buffer.concat([Buffer.from([0, 0, 0, id]), bytes]);
    const fake = await fakeBridge(
      (ws) => {
        ws.send(HELLO);
        // Once the client has written (and so has read 'hello'): more than the 1024-byte window it granted.
        ws.on('message', (_d, binary) => binary && ws.send(frame(1, new Uint8Array(2048))));
      },
      (ws, m) => {
        if (m.type !== 'open') return;
        ws.send(frame(1, Buffer.from('early')));
        ws.send(JSON.stringify({ type: 'opened', id: 1, remoteAddress: '127.0.0.1', remotePort: 7, window: 10 }));
        ws.send(JSON.stringify({ type: 'opened', id: 1, remoteAddress: '10.0.0.1', remotePort: 9, window: 99 }));
        ws.send(frame(1, Buffer.from('hello')));
      },
    );
    const session = await connect(fake.url, { WebSocket: WS, window: 1024, maxWindow: 1024 });
    const socket = session.open({ host: '127.0.0.1', port: 7 });
    const { readable, writable, remotePort } = await socket.opened;
    expect(remotePort).toBe(7);
    const reader = readable.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('hello'); // not 'early'
    await writable.getWriter().write(Uint8Array.of(1));
    expect((await rejection(socket.closed)).code).toBe('ERR_FLOW_CONTROL');
    await expect.poll(() => fake.messages.map((m) => JSON.parse(m).type)).toContain('close');
    await session.close();
    await fake.close();
  });
});

describe('client: receive window', () => {
  /** A bridge that sends each stream TOTAL bytes in 512-byte messages, exactly as its credit allows; `maxCredit` per stream. */
  async function creditBridge(total: number) {
    const credit = new Map<number, number>();
    const sent = new Map<number, number>();
    const maxCredit = new Map<number, number>();
    const pump = (ws: WebSocket, id: number) => {
      let c = credit.get(id)!;
      let n = sent.get(id)!;
      while (c > 0 && n < total) {
        const k = Math.min(512, c, total - n);
        ws.send(Buffer.concat([Buffer.from([0, 0, 0, id]), Buffer.alloc(k, id)]));
        c -= k;
        n += k;
      }
      credit.set(id, c);
      sent.set(id, n);
      if (n === total) ws.send(JSON.stringify({ type: 'end', id }));
    };
    const fake = await fakeBridge(
      (ws) => ws.send(HELLO),
      (ws, m) => {
        const msg = m as { type: string; id: number; window?: number; bytes?: number };
        if (msg.type === 'open') {
          credit.set(msg.id, msg.window!);
          sent.set(msg.id, 0);
          ws.send(JSON.stringify({ type: 'opened', id: msg.id, remoteAddress: '127.0.0.1', remotePort: 7, window: 10 }));
        } else if (msg.type === 'credit') credit.set(msg.id, credit.get(msg.id)! + msg.bytes!);
        else return;
        maxCredit.set(msg.id, Math.max(maxCredit.get(msg.id) ?? 0, credit.get(msg.id)!));
        pump(ws, msg.id);
      },
    );
    return { fake, maxCredit };
  }

  async function readAllOf(session: Session): Promise<number> {
    const { readable } = await session.open({ host: '127.0.0.1', port: 7 }).opened;
    let got = 0;
    for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) got += chunk.length;
    return got;
  }

  it('grows a stream\'s window while its reader keeps up, never past maxWindow, and loses no byte', async () => {
    const { fake, maxCredit } = await creditBridge(256 * 1024);
    const session = await connect(fake.url, { WebSocket: WS, window: 1024, maxWindow: 8192 });
    expect(await readAllOf(session)).toBe(256 * 1024);
    expect(maxCredit.get(1)).toBeGreaterThan(1024);
    expect(maxCredit.get(1)).toBeLessThanOrEqual(8192);
    await session.close();
    await fake.close();
  });

  it('shares one growth budget among a session\'s streams: two streams at once within maxWindow keep their windows', async () => {
    const { fake, maxCredit } = await creditBridge(64 * 1024);
    const session = await connect(fake.url, { WebSocket: WS, window: 1024, maxWindow: 2048 });
    expect(await Promise.all([readAllOf(session), readAllOf(session)])).toEqual([64 * 1024, 64 * 1024]);
    expect([maxCredit.get(1), maxCredit.get(2)]).toEqual([1024, 1024]);
    await session.close();
    await fake.close();
  });
});

describe('client: reconnecting()', () => {
  it('opens a new session after each drop, backs off, and ends when the application closes one', async () => {
    let server!: WebSocket;
    const fake = await fakeBridge((ws) => {
      server = ws;
      ws.send(HELLO);
    });
    const seen: Session[] = [];
    for await (const session of reconnecting(fake.url, { WebSocket: WS, minDelay: 10, maxDelay: 50 })) {
      seen.push(session);
      if (seen.length === 3) await session.close();
      else server.close(1001, 'ERR_SHUTTING_DOWN going away');
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    expect(fake.sessions).toBe(3);
    await fake.close();
  });

  it('gives up after `retries` failures in a row with the last error, and at once on ERR_UNAUTHORIZED', async () => {
    const port = await refusedPort();
    let attempts = 0;
    const run = async (url: string) => {
      for await (const _ of reconnecting(url, { WebSocket: WS, retries: 3, minDelay: 1, maxDelay: 5 })) attempts++;
    };
    expect((await rejection(run(`ws://127.0.0.1:${port}/`))).code).toBe('ERR_BRIDGE_UNREACHABLE');
    expect(attempts).toBe(0);
    const fake = await fakeBridge((ws) => ws.close(4401, 'ERR_UNAUTHORIZED no token'));
    expect((await rejection(run(fake.url))).code).toBe('ERR_UNAUTHORIZED');
    expect(fake.sessions).toBe(1);
    await fake.close();
  });
});

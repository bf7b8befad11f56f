/**
 * Bounded memory (issue 8 part 3) and the session close contract (part 6): ping bursts, global limits, a client
 * that stops reading while the target sends or while it sends junk. Every bound is checked against stats().
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { clientFrame, rawSession, tcpSession } from '../helpers/raw-session.ts';
import { startEcho, type Running } from '../helpers/net.ts';
import { DIRECT_READ_MAX_BYTES } from '../../server/net/relay.ts';

/** A target that writes `total` bytes to each connection as fast as it is let; counts what it handed over. */
async function startSource(total: number): Promise<Running & { written: number }> {
  const state = { written: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = () => {
      while (state.written < total) {
        state.written += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    get written() {
      return state.written;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Samples the bridge's buffered bytes until `done` settles; returns the largest value seen. */
async function peakBuffered(bridge: BridgeServer, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  const sample = setInterval(() => (peak = Math.max(peak, bridge.stats().bufferedBytes)), 2);
  try {
    await done;
  } finally {
    clearInterval(sample);
  }
  return peak;
}

describe('bridge limits', () => {
  let echo: Running;
  let bridge: BridgeServer;
  const logs: string[] = [];
  const BOUND = 64 * 1024;

  beforeAll(async () => {
    echo = await startEcho();
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        policy: { allow: [{ cidr: '127.0.0.1' }] },
        limits: { maxSessions: 4, maxStreams: 3, maxBufferedBytes: BOUND, overloadTimeoutMs: 300, maxMessageBytes: 16 * 1024 },
      },
      { log: (l) => logs.push(l) },
    );
  });
  afterAll(async () => {
    await bridge.close();
    await echo.close();
  });

  it('answers a burst of 1000 client pings and keeps the session', async () => {
    const s = await rawSession(bridge.url);
    let pongs = 0;
    s.ws.on('pong', () => pongs++);
    for (let i = 0; i < 1000; i++) s.ws.ping(Buffer.from(String(i)));
    s.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 });
    await s.next((m) => m.type === 'opened');
    while (pongs < 1000) await once(s.ws, 'pong');
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.ws.close();
    await s.closed;
    await bridge.whenIdle();
  });

  it('refuses a session past maxSessions with 4503 and a stream past maxStreams with ERR_BRIDGE_FULL', async () => {
    const open = await Promise.all([0, 1, 2, 3].map(() => rawSession(bridge.url)));
    const fifth = await rawSession(bridge.url, { waitHello: false });
    expect(await fifth.closed).toEqual({ code: 4503, reason: 'ERR_BRIDGE_FULL the bridge is at its limit of 4 sessions' });
    for (let i = 0; i < 3; i++) open[i]!.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 });
    await Promise.all(open.slice(0, 3).map((s) => s.next((m) => m.type === 'opened')));
    open[3]!.send({ type: 'open', id: 9, host: '127.0.0.1', port: echo.port, window: 65536 });
    expect(await open[3]!.next((m) => m.type === 'error')).toMatchObject({ id: 9, code: 'ERR_BRIDGE_FULL' });
    for (const s of open) s.ws.close();
    await bridge.whenIdle();
    expect(bridge.stats()).toMatchObject({ sessions: 0, streams: 0 });
  });

  it('stops reading a target for a client that announced a 2 GiB window and reads nothing, then closes it 4008', async () => {
    const source = await startSource(256 * 1024 * 1024);
    const { socket } = await tcpSession(bridge.address.port);
    socket.pause(); // never reads again
    socket.write(clientFrame(1, JSON.stringify({ type: 'open', id: 1, host: '127.0.0.1', port: source.port, window: 2 ** 31 })));
    const peak = await peakBuffered(bridge, (async () => {
      while (bridge.stats().sessions === 0) await new Promise((r) => setImmediate(r));
      await bridge.whenIdle();
    })());
    // One read from the target past the bound at most (docs/bridge.md, worst-case memory).
    expect(peak).toBeLessThanOrEqual(BOUND + DIRECT_READ_MAX_BYTES);
    expect(source.written).toBeLessThan(256 * 1024 * 1024);
    expect(logs.some((l) => /unread for 300 ms/.test(l))).toBe(true);
    socket.destroy();
    await source.close();
  });

  it('bounds a junk-sending client that reads nothing, while a second session keeps working', async () => {
    const { socket } = await tcpSession(bridge.address.port);
    socket.pause();
    const junk = Buffer.concat(Array.from({ length: 2000 }, () => clientFrame(1, 'x')));
    const other = await rawSession(bridge.url);
    other.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 });
    await other.next((m) => m.type === 'opened');
    const flood = (async () => {
      // Write until the bridge stops reading us (the kernel buffers fill) or closes us.
      for (let i = 0; i < 200 && !socket.destroyed; i++) {
        if (!socket.write(junk)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
      }
    })();
    const peak = await peakBuffered(bridge, (async () => {
      while (bridge.stats().sessions < 2) await new Promise((r) => setImmediate(r));
      while (bridge.stats().sessions > 1) await new Promise((r) => setTimeout(r, 10));
    })());
    // Replies to junk may reach twice the bound; then the session is closed.
    expect(peak).toBeLessThanOrEqual(2 * BOUND + 1024);
    other.ws.send(encodeDataFrame(1, Buffer.from('still here')));
    await new Promise<void>((resolve) => other.ws.on('message', (d: Buffer, bin) => bin && d.subarray(4).toString() === 'still here' && resolve()));
    socket.destroy();
    await flood;
    other.ws.close();
    await bridge.whenIdle();
  }, 90_000);

  it('bounds DNS lookups in flight, counting each until it really ends, not until its stream gives up', async () => {
    // A DNS server that never answers: every lookup runs until the resolver's own timeout.
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const b = await BridgeServer.start({
      listen: '127.0.0.1:0',
      dns: { servers: [`127.0.0.1:${silent.address().port}`] },
      limits: { maxPendingLookups: 2 },
    });
    try {
      const s = await rawSession(b.url);
      s.send({ type: 'open', id: 1, host: 'one.example', port: 80, window: 1024 });
      s.send({ type: 'open', id: 2, host: 'two.example', port: 80, window: 1024 });
      s.send({ type: 'open', id: 3, host: 'three.example', port: 80, window: 1024 });
      expect(await s.next((m) => m.id === 3)).toMatchObject({ type: 'error', code: 'ERR_BRIDGE_FULL' });
      // The client gives up on the first two; their lookups still run, so a new name is still refused.
      s.send({ type: 'close', id: 1 });
      s.send({ type: 'close', id: 2 });
      s.send({ type: 'open', id: 4, host: 'four.example', port: 80, window: 1024 });
      expect(await s.next((m) => m.id === 4)).toMatchObject({ type: 'error', code: 'ERR_BRIDGE_FULL' });
      // An IP literal needs no lookup and is judged as usual.
      s.send({ type: 'open', id: 5, host: '127.0.0.1', port: 80, window: 1024 });
      expect(await s.next((m) => m.id === 5)).toMatchObject({ type: 'error', code: 'ERR_POLICY_DENIED' });
      s.ws.close();
      await s.closed;
    } finally {
      await b.close();
      silent.close();
    }
  });
});

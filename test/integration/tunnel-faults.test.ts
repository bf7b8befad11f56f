/**
 * Fault tests: what the client and the target see when the connection under the bridge fails, how long it took
 * (printed, not asserted), and that nothing is left open.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { connect } from '../../web/client/index.ts';
import type { WebSocketConstructor } from '../../web/client/websocket-like.ts';
import { openSession } from '../helpers/bridge.ts';
import { startDante } from '../helpers/peers.ts';
import { startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';
import { socketFds } from '../helpers/socket-fds.ts';

let target: ScriptedTarget;
let bridge: BridgeServer;

beforeAll(async () => {
  target = await startScripted();
  bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, clientChains: true });
});
afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

it("a reset of the client's TCP connection under the WebSocket: the stream fails, the target gets an RST, nothing is left", async () => {
  const made: WebSocket[] = [];
  class Capturing extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      made.push(this);
    }
  }
  let seen!: Promise<string>;
  const arrived = new Promise<void>((resolve) => {
    target.script = (s) => {
      seen = new Promise((done) => {
        s.once('end', () => done('FIN'));
        s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
      });
      s.once('data', () => resolve());
    };
  });
  const sockets = socketFds();
  const session = await connect(bridge.url, { WebSocket: Capturing as unknown as WebSocketConstructor });
  const socket = session.open({ host: '127.0.0.1', port: target.port });
  const info = await socket.opened;
  await info.writable.getWriter().write(new Uint8Array([1]));
  await arrived;
  const t0 = performance.now();
  (made[0] as unknown as { _socket: Socket })._socket.resetAndDestroy();
  await expect(socket.closed).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
  const clientMs = performance.now() - t0;
  expect(await seen).toBe('ECONNRESET');
  const targetMs = performance.now() - t0;
  console.log(`client reset under the bridge: client saw ERR_SESSION_CLOSED after ${clientMs.toFixed(1)} ms, target got an RST after ${targetMs.toFixed(1)} ms`);
  await target.idle();
  await expect.poll(() => bridge.stats()).toMatchObject({ sessions: 0, streams: 0 });
  await expect.poll(socketFds, { timeout: 10_000 }).toBe(sockets);
});

it('a hop that hangs (Dante SIGSTOPped mid-transfer) is caught by the idle timeout, nothing is left', { timeout: 60_000 }, async () => {
  const sockets = socketFds();
  const dante = await startDante({ auth: false });
  const quick = await BridgeServer.start({
    listen: '127.0.0.1:0',
    policy: { allow: [{ cidr: '127.0.0.0/8' }] },
    clientChains: true,
    limits: { idleTimeoutMs: 1500 },
  });
  try {
    target.script = (s) => {
      s.on('error', () => {});
      s.pipe(s);
    };
    const session = await openSession(quick.url);
    const socket = session.open({ host: '127.0.0.1', port: target.port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: dante.port }] });
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await writer.write(new Uint8Array(1000));
    const reader = info.readable.getReader();
    await reader.read();
    dante.signal!('SIGSTOP');
    const t0 = performance.now();
    void writer.write(new Uint8Array(1000)).catch(() => {});
    await expect(socket.closed).rejects.toMatchObject({ code: 'ERR_IDLE_TIMEOUT' });
    console.log(`hung hop (SIGSTOP): client saw ERR_IDLE_TIMEOUT after ${(performance.now() - t0).toFixed(0)} ms (idleTimeoutMs 1500)`);
    await expect.poll(() => quick.stats()).toMatchObject({ streams: 0 });
    session.close();
    await session.closed;
    await expect.poll(() => quick.stats()).toMatchObject({ sessions: 0 });
  } finally {
    dante.signal!('SIGCONT');
    await quick.close();
    await dante.stop();
  }
  await target.idle();
  await expect.poll(socketFds, { timeout: 10_000 }).toBe(sockets);
});

it('a hop killed mid-transfer (Dante SIGKILL): the client sees a short stream end or fail, nothing is left', { timeout: 60_000 }, async () => {
  const sockets = socketFds();
  const dante = await startDante({ auth: false });
  const total = 32 * 1024 * 1024;
  target.script = (s) => {
    s.on('error', () => {});
    s.resume();
    s.end(Buffer.alloc(total));
  };
  const session = await openSession(bridge.url);
  try {
    const socket = session.open({ host: '127.0.0.1', port: target.port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: dante.port }] });
    const info = await socket.opened;
    const reader = info.readable.getReader();
    let got = (await reader.read()).value?.length ?? 0;
    const t0 = performance.now();
    await dante.stop();
    let outcome = 'end';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
    } catch (err) {
      outcome = (err as { code: string }).code;
    }
    console.log(`killed hop: client saw ${outcome} after ${(performance.now() - t0).toFixed(0)} ms with ${got} of ${total} bytes`);
    // A proxy that dies looks like a FIN (or an RST): only the missing bytes tell.
    expect(got).toBeLessThan(total);
    socket.close();
    await target.idle();
    await expect.poll(() => bridge.stats()).toMatchObject({ streams: 0 });
  } finally {
    session.close();
    await session.closed;
  }
  await expect.poll(socketFds, { timeout: 10_000 }).toBe(sockets);
});

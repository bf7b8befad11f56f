import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { openSession, readAll, roundTrip } from '../helpers/bridge.ts';
import { refusedPort, startEcho, type Running } from '../helpers/net.ts';
import { DANTE_PASSWORD, DANTE_USER, startDante, startSshSocks, type Peer } from '../helpers/peers.ts';

/** A target that sends `bytes` to every connection as fast as its socket lets it; `written` counts per connection. */
async function startSource(bytes: number): Promise<Running & { written: number[]; stalled: Array<Promise<void>> }> {
  const written: number[] = [];
  const stalled: Array<Promise<void>> = [];
  const chunk = Buffer.alloc(64 * 1024, 0x42);
  const server: Server = createServer((s: Socket) => {
    const i = written.push(0) - 1;
    let markStalled!: () => void;
    stalled[i] = new Promise((resolve) => (markStalled = resolve));
    s.on('error', () => s.destroy());
    const pump = () => {
      while (written[i]! < bytes) {
        written[i]! += chunk.length;
        if (!s.write(chunk)) {
          const timer = setTimeout(markStalled, 500); // no drain for 500 ms: the path is full
          s.once('drain', () => (clearTimeout(timer), pump()));
          return;
        }
      }
      s.end();
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    written,
    stalled,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('bridge through real third-party proxies', () => {
  let echo: Running;
  let danteAuth: Peer;
  let ssh: Peer;
  let ours: SocksServer;
  let bridge: BridgeServer;

  beforeAll(async () => {
    echo = await startEcho();
    danteAuth = await startDante({ auth: true });
    ssh = await startSshSocks();
    ours = await SocksServer.start({ port: 0, users: [{ username: 'third', password: 'hop-three' }] });
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      // ::1 too: where /etc/hosts maps localhost to ::1 as well, the name reaches the last hop only if both are allowed.
      policy: { allow: [{ cidr: '127.0.0.0/8' }, { cidr: '::1/128' }] },
      clientChains: true,
      routes: {
        dante: [{ type: 'socks5', host: '127.0.0.1', port: danteAuth.port, username: DANTE_USER, password: DANTE_PASSWORD }],
        triple: [
          { type: 'socks5', host: '127.0.0.1', port: danteAuth.port, username: DANTE_USER, password: DANTE_PASSWORD },
          { type: 'socks4a', host: '127.0.0.1', port: ssh.port },
          { type: 'socks5', host: '127.0.0.1', port: ours.address.port, username: 'third', password: 'hop-three' },
        ],
      },
    });
  }, 60_000);
  afterAll(async () => {
    await bridge?.close();
    await ours?.close();
    await ssh?.stop();
    await danteAuth?.stop();
    await echo?.close();
  });

  it('goes through Dante with username/password', async () => {
    const session = await openSession(bridge.url);
    const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route: 'dante', inspect: true });
    expect(await roundTrip(await socket.opened, 'hello dante')).toBe('hello dante');
    const hop1 = socket.transcript.filter((e) => e.hop === 1).map((e) => `${e.direction} ${e.kind} ${e.kind === 'socks5.auth' ? '' : e.hex}`.trim());
    expect(hop1.slice(0, 4)).toEqual(['sent socks5.greeting 05 02 00 02', 'received socks5.method 05 02', 'sent socks5.auth', 'received socks5.auth-reply 01 00']);
    expect(JSON.stringify(socket.transcript)).not.toContain(DANTE_PASSWORD);
    session.close();
  });

  it('chains Dante -> OpenSSH ssh -D -> our server, with every hop in the transcript', async () => {
    const session = await openSession(bridge.url);
    const socket = session.open({ host: 'localhost', port: echo.port }, { route: 'triple', inspect: true });
    const info = await socket.opened;
    expect(await roundTrip(info, 'three hops deep')).toBe('three hops deep');
    const byHop = (hop: number) => socket.transcript.filter((e) => e.hop === hop).map((e) => e.kind);
    expect(byHop(1)).toEqual(['socks5.greeting', 'socks5.method', 'socks5.auth', 'socks5.auth-reply', 'socks5.request', 'socks5.reply']);
    expect(byHop(2)).toEqual(['socks4.request', 'socks4.reply']);
    expect(byHop(3)).toEqual(['socks5.greeting', 'socks5.method', 'socks5.auth', 'socks5.auth-reply', 'socks5.request', 'socks5.reply']);
    // Hop 1 was asked to CONNECT to hop 2 (ssh -D), hop 2 to hop 3 (by name, SOCKS4a), hop 3 to the target.
    const request1 = socket.transcript.find((e) => e.hop === 1 && e.kind === 'socks5.request')!;
    expect(request1.fields.find((f) => f.label === 'DST.PORT')?.value).toBe(ssh.port);
    const request3 = socket.transcript.find((e) => e.hop === 3 && e.kind === 'socks5.request')!;
    expect(request3.fields.find((f) => f.label === 'DST.ADDR')?.value).toBe('localhost');
    session.close();
  });

  it('reports a failure inside the chain with the hop that gave it', async () => {
    const session = await openSession(bridge.url);
    const closedPort = await refusedPort();
    const socket = session.open({ host: '127.0.0.1', port: closedPort }, { route: 'triple' });
    await expect(socket.opened).rejects.toMatchObject({ code: 'ERR_HOP_FAILED', hop: 3, replyCode: 5 });
    session.close();
  });

  it('reports OpenSSH closing without a reply (its way of saying "refused") as a hop failure', async () => {
    const session = await openSession(bridge.url);
    const port = await refusedPort();
    const socket = session.open({ host: '127.0.0.1', port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: ssh.port }] });
    await expect(socket.opened).rejects.toMatchObject({
      code: 'ERR_HOP_FAILED',
      hop: 1,
      message: expect.stringMatching(/closed the connection during the handshake/),
    });
    session.close();
  });

  it('keeps other streams flowing while one reader stalls, with bounded buffering', async () => {
    const total = 32 * 1024 * 1024;
    const source = await startSource(total);
    try {
      const session = await openSession(bridge.url);
      const slow = session.open({ host: '127.0.0.1', port: source.port });
      await slow.opened; // never read
      await source.stalled[0];
      const fast = session.open({ host: '127.0.0.1', port: source.port });
      const got = await readAll(await fast.opened);
      expect(got.length).toBe(total);
      // The stalled stream holds at most its window in the bridge plus what the kernel buffers on loopback.
      expect(source.written[0]).toBeLessThan(total / 2);
      session.close();
      await bridge.whenIdle();
    } finally {
      await source.close();
    }
  });

  it('ends a stream cleanly when its proxy dies mid-stream, and the session goes on', async () => {
    const dying = await startDante({ auth: false });
    const session = await openSession(bridge.url);
    const socket = session.open({ host: '127.0.0.1', port: echo.port }, { via: [{ type: 'socks5', host: '127.0.0.1', port: dying.port }] });
    const info = await socket.opened;
    expect(await roundTrip(info, 'before')).toBe('before');
    await dying.stop();
    // The proxy's death reaches the bridge as its FIN (or a reset): the readable ends (or errors) ...
    const reader = info.readable.getReader();
    expect((await reader.read().catch(() => ({ done: true }))).done).toBe(true);
    // ... and once our side is done too, the stream is gone.
    await info.writable.close().catch(() => undefined);
    await socket.closed.catch(() => undefined);
    const other = session.open({ host: '127.0.0.1', port: echo.port }, { route: 'dante' });
    expect(await roundTrip(await other.opened, 'after')).toBe('after');
    session.close();
    await bridge.whenIdle();
    expect(bridge.stats()).toEqual({ sessions: 0, streams: 0, bufferedBytes: 0 });
  });
});

/**
 * Remote crashes (issue 8 part 2): resets on the upgrade path in every state, hosts the SOCKS encoders cannot
 * carry, datagrams to port 0. Each of these took the whole bridge process down before; now each harms only the
 * peer that sent it, and the bridge keeps serving.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { encodeUdpDatagram } from '../../shared/socks/udp.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';
import { startEcho, type Running } from '../helpers/net.ts';

const TOKEN = 'correct-horse-battery';

function upgradeRequest(port: number, protocols: string, extra = ''): string {
  return (
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocols}\r\n${extra}\r\n`
  );
}

/** Connects, writes `request`, waits for the first bytes of the answer (if asked), then resets the connection. */
async function sendThenReset(port: number, request: string, waitAnswer: boolean): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(request);
  let answer = '';
  if (waitAnswer) answer = String((await once(socket, 'data'))[0]);
  socket.resetAndDestroy();
  await once(socket, 'close');
  return answer;
}

/** Waits until the data frames received carry `text` (the echo of what was sent on stream 1). */
async function echoed(s: RawSession, text: string): Promise<void> {
  const got = () => s.frames.map((f) => f.subarray(4).toString()).join('');
  while (got() !== text) {
    if (s.ws.readyState !== s.ws.OPEN) throw new Error('session closed before the echo');
    await once(s.ws, 'message');
  }
}

describe('the bridge survives hostile peers', () => {
  let echo: Running;
  let socks: SocksServer;
  let bridge: BridgeServer;

  beforeAll(async () => {
    echo = await startEcho();
    socks = await SocksServer.start({ port: 0 });
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      tokens: [TOKEN],
      policy: { allow: [{ cidr: '127.0.0.1' }] },
      routes: {
        s5: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }],
        s4a: [{ type: 'socks4a', host: '127.0.0.1', port: socks.address.port }],
      },
      limits: { sessionsPerClient: 64 },
    });
  });
  afterAll(async () => {
    await bridge.close();
    await socks.close();
    await echo.close();
  });

  async function stillServes(): Promise<void> {
    const s = await rawSession(bridge.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    s.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 });
    await s.next((m) => m.type === 'opened' && m.id === 1);
    s.ws.send(encodeDataFrame(1, Buffer.from('alive')));
    await echoed(s, 'alive');
    s.ws.close();
    await s.closed;
  }

  it('survives a reset after a refused upgrade (HTTP refusal and close-code refusal), mid-handshake and after accept', async () => {
    const { port } = bridge.address;
    for (let i = 0; i < 20; i++) {
      // No wsocks.v1: an HTTP refusal, then a reset.
      expect(await sendThenReset(port, upgradeRequest(port, 'other'), true)).toMatch(/^HTTP\/1\.1 40[01]/);
      // wsocks.v1 without a token: accepted, closed with 4401, then a reset.
      expect(await sendThenReset(port, upgradeRequest(port, 'wsocks.v1'), true)).toMatch(/^HTTP\/1\.1 101/);
      // A reset while the request is still arriving, and one after a good upgrade.
      await sendThenReset(port, upgradeRequest(port, 'wsocks.v1').slice(0, 40), false);
      await sendThenReset(port, upgradeRequest(port, 'wsocks.v1', `Authorization: Bearer ${TOKEN}\r\n`), true);
    }
    await stillServes();
  });

  it.each([
    ['leading space', ' 127.0.0.1'],
    ['tab', '\t127.0.0.1'],
    ['non-ASCII name with an empty label', 'b\u00fccher..example'],
    ['NUL inside', '127.0.0.1\u0000.evil'],
    ['200 non-ASCII characters', '\u00e9'.repeat(200)],
  ])('answers an open through a SOCKS5 or SOCKS4a route to a host with a %s with a coded error for that stream only', async (_what, host) => {
    const s = await rawSession(bridge.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    s.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 });
    await s.next((m) => m.type === 'opened' && m.id === 1);
    for (const [id, route] of [[2, 's5'], [3, 's4a']] as const) {
      s.send({ type: 'open', id, host, port: echo.port, route, window: 65536 });
      const error = await s.next((m) => m.type === 'error' && m.id === id);
      // The bridge refuses it before any hop sees it (shared/net/canonical-target.ts).
      expect(error).toMatchObject({ code: 'ERR_BAD_TARGET' });
      expect(String(error.message)).toMatch(/^bad target /);
    }
    // Full-width digits are the address they spell (IDNA mapping), judged and reached as 127.0.0.1.
    s.send({ type: 'open', id: 4, host: '\uff11\uff12\uff17.\uff10.\uff10.\uff11', port: echo.port, route: 's5', window: 65536 });
    expect(await s.next((m) => m.id === 4)).toMatchObject({ type: 'opened', remoteAddress: '127.0.0.1' });
    // The session and its first stream are untouched.
    s.ws.send(encodeDataFrame(1, Buffer.from('ping')));
    await echoed(s, 'ping');
    expect(s.messages.some((m) => m.type === 'error' && m.id === 1)).toBe(false);
    s.ws.close();
    await s.closed;
  });

  it('drops a direct datagram to port 0 instead of throwing', async () => {
    const s = await rawSession(bridge.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    s.send({ type: 'open', id: 5, command: 'udp', window: 65536 });
    await s.next((m) => m.type === 'opened' && m.id === 5);
    s.ws.send(encodeDataFrame(5, encodeUdpDatagram({ host: '127.0.0.1', port: 0, data: Buffer.from('x') })));
    await stillServes();
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.ws.close();
    await s.closed;
  });
});

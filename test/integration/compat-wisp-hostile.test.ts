import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { WispCloseReason, WispStreamType } from '../../shared/protocol/wisp-frame.ts';
import { WispExtensionId } from '../../shared/protocol/wisp-extensions.ts';
import { countingTcp, countingUdp, type CountingListener } from '../helpers/counting-listeners.ts';
import { startEcho, startUdpEcho } from '../helpers/net.ts';
import { RawWisp } from '../helpers/raw-wisp.ts';
import { startScripted, type ScriptedTarget } from '../helpers/scripted-target.ts';
import { socketFds } from '../helpers/socket-fds.ts';

/**
 * Hostile Wisp (v1, v2) and wsproxy clients against the compat endpoints (docs/compat.md), built from the docs
 * alone: malformed packets close the session with 4400 and harm no other session; packets for unknown or closed
 * streams are dropped; odd spellings of loopback never reach a listener the policy denies (TCP and UDP streams, and
 * wsproxy's HOST:PORT path); a client that reads nothing cannot grow the bridge's outgoing buffer; client pings are
 * answered; nothing is left open.
 */

const TOKEN = 'a-bridge-session-token';
const none = new Uint8Array(0);

/** A Wisp packet header with a payload, any type (the codec would refuse to build the bad ones). */
function packet(type: number, id: number, payload: number[] | Uint8Array = []): Buffer {
  const out = Buffer.alloc(5);
  out[0] = type;
  out.writeUInt32LE(id, 1);
  return Buffer.concat([out, Buffer.from(payload)]);
}

/** A CONNECT with any hostname bytes. */
function connectPacket(id: number, port: number, host: Uint8Array | string, streamType: number = WispStreamType.TCP): Buffer {
  const p = Buffer.alloc(3);
  p[0] = streamType;
  p.writeUInt16LE(port, 1);
  return packet(0x01, id, Buffer.concat([p, typeof host === 'string' ? Buffer.from(host, 'latin1') : host]));
}

describe('Wisp and wsproxy against hostile clients', () => {
  let bridge: BridgeServer;
  let echoServer: Awaited<ReturnType<typeof startEcho>>;
  let udpEcho: Awaited<ReturnType<typeof startUdpEcho>>;
  /** Listeners on a loopback port the policy does not allow (127.0.0.1 and ::1): must never see a thing. */
  const forbidden: CountingListener[] = [];
  let forbiddenPort: number;
  let base: string;
  const logs: string[] = [];
  /** A SOCKS5 hop that accepts and never answers: streams over it stay dialing. */
  let silentHop: ScriptedTarget;

  beforeAll(async () => {
    echoServer = await startEcho();
    udpEcho = await startUdpEcho();
    const tcp = await countingTcp('127.0.0.1');
    forbiddenPort = tcp.port;
    forbidden.push(tcp, await countingUdp('127.0.0.1', forbiddenPort));
    await countingTcp('::1', forbiddenPort).then((l) => forbidden.push(l), () => {});
    await countingUdp('::1', forbiddenPort).then((l) => forbidden.push(l), () => {});
    silentHop = await startScripted();
    silentHop.script = (s) => {
      s.resume();
      s.once('end', () => s.end());
    };
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        tokens: [TOKEN],
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: [echoServer.port, udpEcho.port] }] },
        routes: { silent: [{ type: 'socks5', host: '127.0.0.1', port: silentHop.port }] },
        compat: {
          wisp: [{ path: '/wisp/', wsproxy: true }, { path: '/wisp-silent/', route: 'silent' }],
          websockify: { path: '/websockify', targets: { [`${TOKEN}-vnc`]: { host: '127.0.0.1', port: echoServer.port } } },
        },
      },
      { log: (l) => logs.push(l) },
    );
    base = `ws://127.0.0.1:${bridge.address.port}`;
  });

  afterAll(async () => {
    await bridge?.close();
    await echoServer?.close();
    await udpEcho?.close();
    for (const l of forbidden) await l.close();
    await silentHop?.close();
  });

  /** An echo over a fresh stream of `raw`: the session still serves. */
  async function echoes(raw: RawWisp, id: number): Promise<void> {
    raw.send({ type: 'connect', id, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
    raw.send({ type: 'data', id, data: Buffer.from(`ping ${id}`) });
    const back = await raw.nextNotContinue();
    expect(back).toMatchObject({ type: 'data', id });
    expect(Buffer.from((back as { data: Uint8Array }).data).toString()).toBe(`ping ${id}`);
    raw.send({ type: 'close', id, reason: WispCloseReason.VOLUNTARY });
  }

  const malformed: Array<[string, () => Buffer | string]> = [
    ['an empty binary message', () => Buffer.alloc(0)],
    ['a truncated header', () => Buffer.from([0x02, 1, 0, 0])],
    ['an unknown packet type', () => packet(0x09, 1, [1])],
    ['packet type 0', () => packet(0x00, 1, [1])],
    ['a CONNECT without a hostname', () => packet(0x01, 1, [1, 80, 0])],
    ['a CONNECT of 2 bytes', () => packet(0x01, 1, [1, 80])],
    ['a CONNECT with a 256-byte hostname', () => connectPacket(1, 80, 'a'.repeat(256))],
    ['a CONNECT with a NUL in the hostname', () => connectPacket(1, 80, '127.0.0.1\u0000.example')],
    ['a CONNECT with a space in the hostname', () => connectPacket(1, 80, '127.0.0.1 ')],
    ['a CONNECT with UTF-8 in the hostname', () => connectPacket(1, 80, Buffer.from('１２７.0.0.1', 'utf8'))],
    ['a CONNECT on stream 0', () => connectPacket(0, 80, '127.0.0.1')],
    ['a CONTINUE of 3 bytes', () => packet(0x03, 1, [1, 0, 0])],
    ['a CLOSE without a reason', () => packet(0x04, 1)],
    ['a CLOSE of 2 bytes', () => packet(0x04, 1, [2, 2])],
    ['an INFO after the handshake', () => packet(0x05, 0, [2, 0])],
    ['a text message', () => 'hello'],
  ];

  describe.each([1, 2] as const)('v%i', (version) => {
    it.each(malformed)('%s closes the session with 4400 ERR_BAD_MESSAGE; other sessions go on', async (_what, make) => {
      const bystander = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version);
      const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version);
      const bytes = make();
      raw.sendRaw(bytes, typeof bytes !== 'string');
      const end = await raw.closed;
      expect(end.code).toBe(4400);
      expect(end.reason).toMatch(/^ERR_BAD_MESSAGE /);
      await echoes(bystander, 9);
      bystander.ws.close();
      await bystander.closed;
    });

    it('a CONNECT for a stream id already open closes the session with 4400', async () => {
      const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version);
      await echoes(raw, 1);
      raw.send({ type: 'connect', id: 2, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
      raw.send({ type: 'connect', id: 2, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
      const end = await raw.closed;
      expect(end).toMatchObject({ code: 4400, reason: expect.stringMatching(/^ERR_BAD_MESSAGE .*stream 2/) });
    });

    it('DATA, CLOSE and CONTINUE for unknown or closed streams (and DATA, CONTINUE on stream 0) are dropped; CLOSE twice is harmless; an id is reusable after CLOSE', async () => {
      const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version);
      raw.send({ type: 'data', id: 77, data: Buffer.from('nobody') });
      raw.send({ type: 'close', id: 78, reason: WispCloseReason.VOLUNTARY });
      raw.send({ type: 'continue', id: 79, remaining: 0xffffffff });
      raw.send({ type: 'data', id: 0xffffffff, data: Buffer.alloc(1000) });
      raw.send({ type: 'data', id: 0, data: Buffer.from('stream 0 is the connection') });
      raw.send({ type: 'continue', id: 0, remaining: 1 });
      await echoes(raw, 1);
      raw.send({ type: 'close', id: 1, reason: WispCloseReason.VOLUNTARY });
      raw.send({ type: 'close', id: 1, reason: 0x81 });
      raw.send({ type: 'data', id: 1, data: Buffer.from('late') });
      raw.send({ type: 'continue', id: 1, remaining: 5 });
      await echoes(raw, 1);
      await echoes(raw, 0xffffffff);
      expect(raw.garbage).toEqual([]);
      raw.ws.close();
      expect((await raw.closed).code).toBe(1005);
    });

    it('a CONNECT to port 0 is refused, one of an unknown stream type is closed with 0x41; the session goes on', async () => {
      const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version);
      raw.sendRaw(connectPacket(3, 0, '127.0.0.1'));
      // Port 0 is no port the policy allows (0x48); a bridge could also call it a bad target (0x41).
      const refused = await raw.nextNotContinue();
      expect(refused).toMatchObject({ type: 'close', id: 3 });
      expect([WispCloseReason.INVALID_INFO, WispCloseReason.BLOCKED]).toContain((refused as { reason: number }).reason);
      raw.sendRaw(connectPacket(4, echoServer.port, '127.0.0.1', 0x07));
      expect(await raw.nextNotContinue()).toEqual({ type: 'close', id: 4, reason: WispCloseReason.INVALID_INFO });
      await echoes(raw, 5);
      raw.ws.close();
      await raw.closed;
    });
  });

  it('an id reused right after the client\'s CLOSE of a busy stream: the new stream gets only its own bytes (v2 after its confirmation, v1), and its records count only those', async () => {
    // A target that sends as fast as it can, forever.
    const firehose = await startScripted();
    firehose.script = (s) => {
      const chunk = Buffer.alloc(64 * 1024, 0x46);
      const more = () => {
        while (!s.destroyed && s.write(chunk));
      };
      s.on('drain', more);
      s.once('end', () => s.destroy());
      more();
    };
    try {
      const ends: Array<{ stream: number; target: string; bytesDown: number }> = [];
      const bridgeWithIt = await BridgeServer.start(
        {
          listen: '127.0.0.1:0',
          policy: { allow: [{ cidr: '127.0.0.1/32', ports: [echoServer.port, firehose.port] }] },
          compat: { wisp: [{ path: '/wisp/' }] },
        },
        { onEvent: (e) => void (e.event === 'stream_end' && ends.push(e)) },
      );
      try {
        for (let round = 0; round < 5; round++) {
          const raw = await RawWisp.ready(`ws://127.0.0.1:${bridgeWithIt.address.port}/wisp/`, 2, [{ id: WispExtensionId.STREAM_CONFIRMATION, payload: none }]);
          raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: firehose.port, hostname: '127.0.0.1' });
          expect(await raw.next()).toEqual({ type: 'continue', id: 1, remaining: 128 });
          expect(await raw.next()).toMatchObject({ type: 'data', id: 1 });
          raw.send({ type: 'close', id: 1, reason: WispCloseReason.VOLUNTARY });
          raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
          // DATA of the old stream still in flight before the bridge read the CLOSE may come; the new stream's
          // confirmation marks the point after which id 1 is only the new stream.
          for (;;) {
            const p = await raw.next();
            if (p?.type === 'continue' && p.id === 1) break;
            expect(p).toMatchObject({ type: 'data', id: 1 });
          }
          raw.send({ type: 'data', id: 1, data: Buffer.from('ping') });
          let got = '';
          while (got.length < 4) {
            const p = await raw.next();
            if (p?.type !== 'data' || p.id !== 1) continue;
            got += Buffer.from(p.data).toString('latin1');
          }
          expect(got).toBe('ping');
          raw.ws.close();
          await raw.closed;
        }
        // v1 (no confirmation): what the old target sent after the bridge read the CLOSE must not reach the client
        // as the new stream's bytes (nor be counted as its bytes).
        const raw = await RawWisp.ready(`ws://127.0.0.1:${bridgeWithIt.address.port}/wisp/`, 1);
        raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: firehose.port, hostname: '127.0.0.1' });
        expect(await raw.nextNotContinue()).toMatchObject({ type: 'data', id: 1 });
        raw.send({ type: 'close', id: 1, reason: WispCloseReason.VOLUNTARY });
        raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
        raw.send({ type: 'data', id: 1, data: Buffer.from('ping') });
        let tail = '';
        while (!tail.endsWith('ping')) {
          const p = await raw.nextNotContinue();
          if (p?.type === 'data' && p.id === 1) tail = (tail + Buffer.from(p.data).toString('latin1')).slice(-4);
        }
        raw.send({ type: 'close', id: 1, reason: WispCloseReason.VOLUNTARY });
        await expect.poll(() => ends.filter((e) => e.target === `127.0.0.1:${echoServer.port}`).length).toBe(6);
        expect(ends.filter((e) => e.target === `127.0.0.1:${echoServer.port}`).map((e) => e.bytesDown)).toEqual([4, 4, 4, 4, 4, 4]);
        raw.ws.close();
        await raw.closed;
      } finally {
        await bridgeWithIt.close();
      }
    } finally {
      await firehose.close();
    }
  });

  it('UDP: a datagram over maxDatagramBytes fails its stream (CLOSE 0x01); packets for it after that are dropped, the session goes on', async () => {
    const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, 2, [{ id: WispExtensionId.UDP, payload: none }, { id: WispExtensionId.STREAM_CONFIRMATION, payload: none }]);
    raw.send({ type: 'connect', id: 7, streamType: WispStreamType.UDP, port: udpEcho.port, hostname: '127.0.0.1' });
    expect(await raw.next()).toEqual({ type: 'continue', id: 7, remaining: 128 });
    raw.send({ type: 'data', id: 7, data: Buffer.from('one') });
    expect(await raw.next()).toMatchObject({ type: 'data', id: 7, data: Buffer.from('one') });
    raw.send({ type: 'data', id: 7, data: Buffer.alloc(65_508, 1) });
    expect(await raw.next()).toEqual({ type: 'close', id: 7, reason: WispCloseReason.UNKNOWN });
    // After its CLOSE, packets for it are dropped; another UDP stream works.
    raw.send({ type: 'data', id: 7, data: Buffer.from('late') });
    raw.send({ type: 'connect', id: 8, streamType: WispStreamType.UDP, port: udpEcho.port, hostname: '127.0.0.1' });
    expect(await raw.next()).toEqual({ type: 'continue', id: 8, remaining: 128 });
    raw.send({ type: 'data', id: 8, data: Buffer.from('two') });
    expect(await raw.next()).toMatchObject({ type: 'data', id: 8, data: Buffer.from('two') });
    raw.ws.close();
    await raw.closed;
  });

  describe('v2 handshake', () => {
    it.each([
      ['an extension length of 0xffffffff', [0x01, 0xff, 0xff, 0xff, 0xff]],
      ['an extension length one past the end', [0x05, 1, 0, 0, 0]],
      ['a 4-byte extension header', [0x01, 0, 0, 0]],
      ['33 extensions', Array.from({ length: 33 }, () => [0x05, 0, 0, 0, 0]).flat()],
    ])('an INFO with %s closes the session with 4400', async (_what, extensions) => {
      const raw = await RawWisp.open(`${base}/wisp/${TOKEN}/`);
      expect(await raw.next()).toMatchObject({ type: 'info' });
      raw.sendRaw(packet(0x05, 0, [2, 0, ...extensions]));
      const end = await raw.closed;
      expect(end).toMatchObject({ code: 4400, reason: expect.stringMatching(/^ERR_BAD_MESSAGE /) });
    });

    it.each([
      ['a username length past the end', [255, 1, 2]],
      ['a password length past the end (drafts 3-5)', [2, 0xff, 0xff, 0x61, 0x62]],
      ['an empty payload', []],
      ['the token cut short by one byte', [0, ...Buffer.from(TOKEN.slice(0, -1))]],
      ['the token with a NUL after it', [0, ...Buffer.from(TOKEN), 0]],
    ])('a password extension with %s: CLOSE 0xc0 on stream 0, then 4401', async (_what, payload) => {
      const raw = await RawWisp.open(`${base}/wisp/`);
      expect(await raw.next()).toMatchObject({ type: 'info' });
      raw.info([{ id: WispExtensionId.PASSWORD, payload: Uint8Array.from(payload) }]);
      raw.send({ type: 'connect', id: 1, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
      expect(await raw.next()).toEqual({ type: 'close', id: 0, reason: WispCloseReason.AUTH_FAILED });
      expect(await raw.next()).toBeUndefined();
      expect((await raw.closed).code).toBe(4401);
    });

    it('a second INFO while the password is being checked closes the session with 4400 once it opens', async () => {
      const raw = await RawWisp.open(`${base}/wisp/`);
      expect(await raw.next()).toMatchObject({ type: 'info' });
      const password = { id: WispExtensionId.PASSWORD, payload: Uint8Array.from([0, ...Buffer.from(TOKEN)]) };
      raw.info([password]);
      raw.info([password]);
      expect(await raw.next()).toEqual({ type: 'continue', id: 0, remaining: 128 });
      expect(await raw.closed).toMatchObject({ code: 4400, reason: expect.stringMatching(/^ERR_BAD_MESSAGE .*INFO/) });
    });
  });

  // Loopback spelled every way a Wisp CONNECT can carry it (printable ASCII), on a port the policy does not allow.
  const LOOPBACK: string[] = [
    '127.0.0.1', '127.1', '127.0.1', '0x7f.1', '0x7f000001', '2130706433', '0177.0.0.1', '017700000001', '127.0.0.1.',
    '127.000.000.001', '0', '0.0.0.0', '0x0', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::', '::ffff:127.0.0.1', '[::ffff:127.0.0.1]',
    '::ffff:7f00:1', '::FFFF:7F00:1', '64:ff9b::7f00:1', '64:ff9b::127.0.0.1', '::127.0.0.1', '::ffff:0:7f00:1', '2002:7f00:1::1',
    'localhost', 'LOCALHOST', 'localhost.', 'Localhost.', '::1%lo', '[::1%25lo]', '127%2e0.0.1', '127.0.0.1:80', '[127.0.0.1]',
    '1.2.3.4.5', 'loop..test', '.',
  ];

  it.each(['tcp', 'udp'] as const)('a %s stream to loopback in %i spellings on a denied port is refused and reaches nothing', async (kind) => {
    const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, 2, [{ id: WispExtensionId.UDP, payload: none }]);
    const reasons = new Map<string, number>();
    let id = 100;
    for (const host of LOOPBACK) {
      id++;
      raw.sendRaw(connectPacket(id, forbiddenPort, host, kind === 'tcp' ? WispStreamType.TCP : WispStreamType.UDP));
      // A UDP stream takes datagrams at once: one is sent, and must go nowhere.
      if (kind === 'udp') raw.send({ type: 'data', id, data: Buffer.from('x') });
      const p = await raw.nextNotContinue();
      expect(p).toMatchObject({ type: 'close', id });
      reasons.set(host, (p as { reason: number }).reason);
    }
    // Names that are not addresses either are refused as bad targets (0x41), the rest as denied (0x48).
    for (const [host, reason] of reasons) expect([host, reason]).toEqual([host, reason === WispCloseReason.INVALID_INFO ? 0x41 : 0x48]);
    expect(reasons.get('0x7f.1')).toBe(WispCloseReason.BLOCKED);
    expect(reasons.get('[::ffff:127.0.0.1]')).toBe(WispCloseReason.BLOCKED);
    expect(reasons.get('localhost.')).toBe(WispCloseReason.BLOCKED);
    await echoes(raw, 1);
    raw.ws.close();
    await raw.closed;
    expect(forbidden.flatMap((l) => l.hits)).toEqual([]);
  });

  // wsproxy: HOST:PORT in the path, percent-encoded or not, IPv6 in brackets.
  const WSPROXY: string[] = [
    '127.0.0.1', '127.1', '0x7f.1', '2130706433', '0177.0.0.1', '127.0.0.1.', '0', '0.0.0.0', '[::1]', '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]', '[64:ff9b::7f00:1]', '[::127.0.0.1]', 'localhost', 'localhost.', '%31%32%37.0.0.1', '127%2e0%2e0%2e1',
    '%5B::1%5D', '%5b%3a%3a1%5d', '[%3A%3Affff%3A127.0.0.1]', '0x7F%2e1', '[::1%25lo]', '[::1%2525lo]', '127.0.0.1%00', '127.0.0.1%20',
    '127.0.0.1%2F..', '%2e%2e', 'a%2F127.0.0.1', '[::1]%3A1', '[[::1]]', '[::1', '::1', '127.0.0.1:1', '%E2%91%A027.0.0.1',
  ];

  it.each(WSPROXY)('wsproxy to %s on a denied port: HTTP 400, or 4001 ERR_POLICY_DENIED / ERR_BAD_TARGET, and nothing reached', async (host) => {
    const ws = new WebSocket(`${base}/wisp/${TOKEN}/${host}:${forbiddenPort}`);
    ws.on('error', () => {});
    const outcome = await new Promise<string>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        resolve(`HTTP ${res.statusCode}`);
        res.resume();
        ws.terminate();
      });
      ws.on('close', (code, reason) => resolve(`${code} ${reason.toString().split(' ')[0]}`));
    });
    expect(outcome).toMatch(/^(HTTP 400|4001 ERR_POLICY_DENIED|4001 ERR_BAD_TARGET)$/);
    expect(forbidden.flatMap((l) => l.hits)).toEqual([]);
  });

  it.each([
    ['Wisp v1', () => `${base}/wisp/${TOKEN}/`, [] as string[]],
    ['Wisp v2', () => `${base}/wisp/${TOKEN}/`, ['wisp-v2']],
    ['wsproxy', () => `${base}/wisp/${TOKEN}/127.0.0.1:${echoServer.port}`, ['binary']],
    ['websockify', () => `${base}/websockify?token=${TOKEN}-vnc`, ['binary']],
  ])('%s: a ping from the client is answered with its pong', async (_mode, url, protocols) => {
    const ws = new WebSocket(url(), protocols);
    await once(ws, 'open');
    const pong = once(ws, 'pong');
    ws.ping(Buffer.from('are you there'));
    const [data] = (await pong) as [Buffer];
    expect(data.toString()).toBe('are you there');
    ws.close();
    await once(ws, 'close');
  });

  it('nothing is left open after hostile sessions: closed mid-dial, mid-handshake, mid-stream, with UDP streams', async () => {
    const sockets = socketFds();
    for (const version of [1, 2] as const) {
      const raw = await RawWisp.ready(`${base}/wisp/${TOKEN}/`, version, [{ id: WispExtensionId.UDP, payload: none }]);
      await echoes(raw, 1);
      raw.send({ type: 'connect', id: 2, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
      raw.send({ type: 'data', id: 2, data: Buffer.alloc(50_000) });
      raw.send({ type: 'connect', id: 3, streamType: WispStreamType.TCP, port: echoServer.port, hostname: 'localhost' });
      if (version === 2) {
        raw.send({ type: 'connect', id: 4, streamType: WispStreamType.UDP, port: udpEcho.port, hostname: '127.0.0.1' });
        raw.send({ type: 'data', id: 4, data: Buffer.from('dgram') });
      }
      (raw.ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
      await raw.closed;
    }
    // Streams stuck dialing through a hop that never answers: some closed by the client, the rest by its leaving.
    const stuck = await RawWisp.ready(`${base}/wisp-silent/${TOKEN}/`, 1);
    for (let id = 1; id <= 12; id++) stuck.send({ type: 'connect', id, streamType: WispStreamType.TCP, port: echoServer.port, hostname: '127.0.0.1' });
    await expect.poll(() => silentHop.open, { timeout: 10_000 }).toBe(12);
    for (let id = 1; id <= 4; id++) stuck.send({ type: 'close', id, reason: id % 2 === 0 ? WispCloseReason.VOLUNTARY : 0x81 });
    await expect.poll(() => silentHop.open, { timeout: 10_000 }).toBe(8);
    stuck.ws.terminate();
    await stuck.closed;
    await silentHop.idle();
    const half = await RawWisp.open(`${base}/wisp/`);
    await half.next();
    half.ws.terminate();
    await half.closed;
    await expect.poll(() => bridge.stats(), { timeout: 10_000 }).toMatchObject({ sessions: 0, streams: 0 });
    await expect.poll(socketFds, { timeout: 10_000 }).toBeLessThanOrEqual(sockets);
  });
});

/**
 * A Wisp v1 client that never reads, as a python3 process (a socket with a 4 KiB receive buffer, so the kernel holds
 * little of what the bridge answers): it opens one stream, then sends `total` CONNECTs the stream limit refuses,
 * printing how many it handed to its socket after each batch; exits 1 when the bridge cuts it, else waits.
 */
const FLOODER = `
import base64, os, socket, struct, sys, time
port, total = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(('127.0.0.1', port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET /wisp/ HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n'
           'Sec-WebSocket-Key: %s\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n' % key).encode())
got = b''
while b'\\r\\n\\r\\n' not in got:
    got += s.recv(1)
if b' 101 ' not in got.split(b'\\r\\n')[0]:
    sys.exit(2)
def frame(payload):
    return bytes([0x82, 0x80 | len(payload)]) + b'\\0\\0\\0\\0' + payload
def connect(sid, port):
    return frame(struct.pack('<BIBH', 1, sid, 1, port) + b'127.0.0.1')
echo = int(sys.argv[3])
s.sendall(connect(1, echo))
batch = b''.join(connect(2 + i, echo) for i in range(3000))
sent = 0
try:
    while sent < total:
        s.sendall(batch)
        sent += 3000
        print(sent, flush=True)
except OSError:
    sys.exit(1)
# All sent (what the bridge does not read waits in its kernel buffer): still never read; the test ends this process.
time.sleep(120)
`;

describe('Wisp: a client that reads nothing', () => {
  it('a flood of CONNECTs past the stream limit does not grow the outgoing buffer past its bound; 4008 ends it', { timeout: 60_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    const echoServer = await startEcho();
    const bound = 16 * 1024;
    let sawOverload = () => {};
    const overloaded = new Promise<void>((resolve) => (sawOverload = resolve));
    /** The most bytes the bridge held for the client, seen after each 64 KiB the client sent and at each log line. */
    let most = 0;
    const bridge: BridgeServer = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: [echoServer.port] }] },
        limits: { streamsPerSession: 1, maxBufferedBytes: bound, overloadTimeoutMs: 2000 },
        compat: { wisp: [{ path: '/wisp/' }] },
      },
      {
        log: (l) => {
          most = Math.max(most, bridge.stats().bufferedBytes);
          if (l.includes('closing: ERR_SESSION_OVERLOADED')) sawOverload();
        },
      },
    );
    let child: import('node:child_process').ChildProcess | undefined;
    try {
      // 600k refused CONNECTs: 6 MB of CLOSE packets the client never reads.
      const total = 600_000;
      child = spawn('python3', ['-c', FLOODER, String(bridge.address.port), String(total), String(echoServer.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let sent = 0;
      createInterface({ input: child.stdout! }).on('line', (line) => {
        sent = Number(line);
        most = Math.max(most, bridge.stats().bufferedBytes);
      });
      const exited = once(child, 'exit');
      await overloaded;
      await expect.poll(() => bridge.stats(), { timeout: 10_000 }).toMatchObject({ sessions: 0, streams: 0 });
      child.kill('SIGKILL');
      await exited;
      expect(sent).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(2 * bound + 64 * 1024);
    } finally {
      child?.kill('SIGKILL');
      await bridge.close();
      await echoServer.close();
    }
  });
});

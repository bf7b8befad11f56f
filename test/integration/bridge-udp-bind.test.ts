import { connect as tcpConnect } from 'node:net';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import type { WsocksError } from '../../shared/protocol/errors.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { encodeUdpDatagram } from '../../shared/socks/udp.ts';
import type { Session, UdpOpenInfo } from '../../web/client/index.ts';
import { openSession, readBytes } from '../helpers/bridge.ts';
import { startUdpEcho } from '../helpers/net.ts';
import { rawSession } from '../helpers/raw-session.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { DROPPED_NOTICES_PER_SECOND } from '../../server/bridge/udp-stream.ts';
import { DANTE_PASSWORD, DANTE_USER, startDante, type Peer } from '../helpers/peers.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString();

/** Sends one datagram and waits for the next one to come back. */
async function exchange(info: UdpOpenInfo, data: string, to?: { host: string; port: number }) {
  const writer = info.writable.getWriter();
  await writer.write({ data: Buffer.from(data), ...(to ? { remoteAddress: to.host, remotePort: to.port } : {}) });
  writer.releaseLock();
  const reader = info.readable.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return value!;
}

describe('UDP and BIND through the bridge', () => {
  let udpEcho: Awaited<ReturnType<typeof startUdpEcho>>;
  let otherUdp: Awaited<ReturnType<typeof startUdpEcho>>;
  let ours: SocksServer;
  let dante: Peer;
  let danteAuth: Peer;
  let bridge: BridgeServer;
  let session: Session;

  beforeAll(async () => {
    udpEcho = await startUdpEcho();
    otherUdp = await startUdpEcho();
    ours = await SocksServer.start({ port: 0 });
    dante = await startDante({ auth: false });
    danteAuth = await startDante({ auth: true });
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      clientChains: true,
      // Direct UDP may reach the echo service only.
      policy: { allow: [{ cidr: '127.0.0.1', ports: String(udpEcho.port) }], deny: [] },
      routes: {
        ours: [{ type: 'socks5', host: '127.0.0.1', port: ours.address.port }],
        ours4: [{ type: 'socks4', host: '127.0.0.1', port: ours.address.port }],
        dante: [{ type: 'socks5', host: '127.0.0.1', port: dante.port }],
        dante4: [{ type: 'socks4', host: '127.0.0.1', port: dante.port }],
        danteAuth: [{ type: 'socks5', host: '127.0.0.1', port: danteAuth.port, username: DANTE_USER, password: DANTE_PASSWORD }],
      },
      limits: { maxMessageBytes: 8192 },
    });
    session = await openSession(bridge.url);
  }, 60_000);
  afterAll(async () => {
    session?.close();
    await bridge?.close();
    await ours?.close();
    await dante?.stop();
    await danteAuth?.stop();
    await udpEcho?.close();
    await otherUdp?.close();
  });

  it.each(['ours', 'dante', 'danteAuth'])('round-trips datagrams through route %s (UDP ASSOCIATE)', async (route) => {
    const socket = session.openUdp({ host: '127.0.0.1', port: udpEcho.port }, { route, inspect: true });
    const info = await socket.opened;
    const reply = await exchange(info, `dgram via ${route}`);
    expect(text(reply.data)).toBe(`dgram via ${route}`);
    expect(reply).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: udpEcho.port });
    const request = socket.transcript.find((e) => e.kind === 'socks5.request')!;
    expect(request.fields.find((f) => f.label === 'CMD')).toMatchObject({ value: 3, meaning: 'UDP ASSOCIATE' });
    // Never merged or split: three datagrams of different sizes come back as three.
    const writer = info.writable.getWriter();
    for (const n of [1, 700, 3000]) await writer.write({ data: new Uint8Array(n).fill(n % 251) });
    writer.releaseLock();
    const reader = info.readable.getReader();
    const sizes = [];
    for (let i = 0; i < 3; i++) sizes.push((await reader.read()).value!.data.length);
    reader.releaseLock();
    expect(sizes.sort((a, b) => a - b)).toEqual([1, 700, 3000]);
    // The transcript has each datagram as it went to and came from the relay (hop 1), header and all; a payload
    // over 256 bytes is cut there, and said so.
    const captured = socket.transcript.filter((e) => e.kind === 'udp.datagram');
    expect(captured.filter((e) => e.hop === 1).length).toBe(8);
    const big = captured.find((e) => e.direction === 'received' && /payload cut to 256 of 3000 bytes/.test(e.note ?? ''));
    expect(big?.hex.split(' ').length).toBe(10 + 256);
    expect(captured[0]!.fields.map((f) => f.name)).toEqual(['wsocks.udp.reserved', 'socks.fragment_number', 'socks.address_type', 'socks.dst', 'socks.port', 'wsocks.udp.data']);
    socket.close();
    await socket.closed;
  });

  it('captures a direct stream’s datagrams as the frames exchanged with the client (hop 0)', async () => {
    const socket = session.openUdp({ host: '127.0.0.1', port: udpEcho.port }, { inspect: true });
    const info = await socket.opened;
    expect(text((await exchange(info, 'direct')).data)).toBe('direct');
    await expect.poll(() => socket.transcript.filter((e) => e.kind === 'udp.datagram').length).toBe(2);
    const [sent, received] = socket.transcript.filter((e) => e.kind === 'udp.datagram');
    expect([sent!.hop, sent!.direction, received!.hop, received!.direction]).toEqual([0, 'sent', 0, 'received']);
    expect(received!.fields.find((f) => f.label === 'DST.PORT')?.value).toBe(udpEcho.port);
    expect(received!.fields.find((f) => f.label === 'DST.ADDR')?.meaning).toBe('who sent the datagram to the relay');
    socket.close();
    await socket.closed;
  });

  it('ends the association on our server when the stream closes', async () => {
    const socket = session.openUdp(null, { route: 'ours' });
    const info = await socket.opened;
    await exchange(info, 'x', { host: '127.0.0.1', port: udpEcho.port });
    expect(ours.stats().udpAssociations).toBe(1);
    socket.close();
    await ours.whenIdle();
    expect(ours.stats().udpAssociations).toBe(0);
  });

  it('drops fragments (FRAG != 0) and passes whole datagrams', async () => {
    const socket = session.openUdp(null, { route: 'ours' });
    const info = await socket.opened;
    const before = udpEcho.seen.length;
    session.sendData(socket.id, encodeUdpDatagram({ host: '127.0.0.1', port: udpEcho.port, data: Buffer.from('fragment'), frag: 1 }));
    const reply = await exchange(info, 'whole', { host: '127.0.0.1', port: udpEcho.port });
    expect(text(reply.data)).toBe('whole');
    expect(udpEcho.seen.slice(before).map((s) => s.data)).toEqual(['whole']);
    socket.close();
  });

  it('sends direct datagrams only where policy allows', async () => {
    const socket = session.openUdp(null);
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await writer.write({ data: Buffer.from('denied'), remoteAddress: '127.0.0.1', remotePort: otherUdp.port });
    writer.releaseLock();
    const reply = await exchange(info, 'allowed', { host: '127.0.0.1', port: udpEcho.port });
    expect(text(reply.data)).toBe('allowed');
    expect(otherUdp.seen).toEqual([]);
    socket.close();
  });

  it('does not pass on datagrams from a stranger to the bridge’s own UDP port (direct mode)', async () => {
    const socket = session.openUdp(null);
    const info = await socket.opened;
    const stranger = createSocket('udp4');
    stranger.bind(0, '127.0.0.2');
    await once(stranger, 'listening');
    stranger.send('intruder', info.relayPort, '127.0.0.1');
    // The echo's reply comes back; the stranger's datagram, sent first, never does.
    const reply = await exchange(info, 'mine', { host: '127.0.0.1', port: udpEcho.port });
    expect(text(reply.data)).toBe('mine');
    expect(reply.remotePort).toBe(udpEcho.port);
    stranger.close();
    socket.close();
  });

  it('ends the stream when the proxy closes the association’s control connection', async () => {
    const dying = await startDante({ auth: false });
    const own = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      routes: { dying: [{ type: 'socks5', host: '127.0.0.1', port: dying.port }] },
    });
    const s2 = await openSession(own.url);
    try {
      const socket = s2.openUdp({ host: '127.0.0.1', port: udpEcho.port }, { route: 'dying' });
      const info = await socket.opened;
      expect(text((await exchange(info, 'alive')).data)).toBe('alive');
      await dying.stop();
      await socket.closed; // the bridge saw the control connection close and said `close`
    } finally {
      s2.close();
      await own.close();
    }
  });

  it('refuses an oversized datagram with a coded error', async () => {
    const socket = session.openUdp({ host: '127.0.0.1', port: udpEcho.port }, { route: 'ours' });
    const info = await socket.opened;
    const writer = info.writable.getWriter();
    await expect(writer.write({ data: new Uint8Array(9000) })).rejects.toMatchObject({ code: 'ERR_DATAGRAM_TOO_LARGE' });
    socket.close();
  });

  it('needs a SOCKS5 last hop for UDP and a route for BIND', async () => {
    await expect(session.openUdp(null, { route: 'ours4' }).opened).rejects.toMatchObject({ code: 'ERR_ROUTE_REQUIRED' });
    await expect(session.bind({}).opened).rejects.toMatchObject({ code: 'ERR_ROUTE_REQUIRED' });
  });

  it.each(['ours', 'ours4', 'dante', 'dante4'])('BIND through route %s: both replies, then data both ways', async (route) => {
    const socket = session.bind({ route, inspect: true });
    const bound = await socket.bound;
    expect(bound.address).toBe('127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    const peer = tcpConnect({ host: bound.address, port: bound.port });
    await once(peer, 'connect');
    const info = await socket.opened;
    expect(info).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: peer.localPort });
    const replies = socket.transcript.filter((e) => e.kind.endsWith('.reply'));
    expect(replies).toHaveLength(2);
    const port = (e: (typeof replies)[number]) => e.fields.find((f) => f.label === 'DSTPORT' || f.label === 'BND.PORT')!.value;
    expect(port(replies[0]!)).toBe(bound.port);
    expect(port(replies[1]!)).toBe(peer.localPort);
    peer.write('hello from the peer');
    expect(await readBytes(info, 19)).toBe('hello from the peer');
    const writer = info.writable.getWriter();
    await writer.write(Buffer.from('hello back'));
    const [data] = await once(peer, 'data');
    expect(String(data)).toBe('hello back');
    peer.destroy();
    socket.close();
  });

  it('left the bridge and our server clean', async () => {
    await ours.whenIdle();
    expect(ours.stats()).toEqual({ connections: 0, bindListeners: 0, udpAssociations: 0 });
    // Messages on a WebSocket are ordered: once this stream is open, every earlier close has been handled.
    const barrier = session.openUdp(null);
    await barrier.opened;
    expect(bridge.stats().streams).toBe(1);
    barrier.close();
  });
});

describe('UDP direct is denied by the default policy', () => {
  it('refuses to open a UDP stream to loopback, and reports datagrams to loopback on an open stream', async () => {
    const echo = await startUdpEcho();
    let sawDrop!: (line: string) => void;
    const dropped = new Promise<string>((resolve) => (sawDrop = resolve));
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0' }, { log: (line) => /dropped a datagram/.test(line) && sawDrop(line) });
    const session = await openSession(bridge.url);
    try {
      const held = session.openUdp({ host: '127.1', port: echo.port });
      await expect(held.opened).rejects.toMatchObject({ code: 'ERR_POLICY_DENIED', message: expect.stringMatching(/^127\.0\.0\.1:\d+: 127\.0\.0\.1 is in 127\.0\.0\.0\/8/) });
      const socket = session.openUdp(null);
      const info = await socket.opened;
      const writer = info.writable.getWriter();
      const refused = new Promise<WsocksError>((resolve) => socket.onRefused(resolve));
      await writer.write({ data: Buffer.from('to loopback'), remoteAddress: '127.0.0.1', remotePort: echo.port });
      expect(await dropped).toMatch(`datagram to 127.0.0.1:${echo.port}: 127.0.0.1 is in 127.0.0.0/8`);
      // The client hears of it too (a `dropped` message), with the code.
      expect(await refused).toMatchObject({ code: 'ERR_POLICY_DENIED', message: expect.stringMatching(/^datagram to 127\.0\.0\.1:/) });
      expect(socket.refused).toBe(1);
      // A host that is no host fails in the client library already, without a round trip.
      await expect(session.open({ host: 'a\u0000b', port: 80 }).opened).rejects.toMatchObject({ code: 'ERR_BAD_TARGET' });
      expect(echo.seen).toEqual([]);
      socket.close();
    } finally {
      session.close();
      await bridge.close();
      await echo.close();
    }
  });
});

describe('a flood of refused or stray datagrams', () => {
  it('gets a few `dropped` notices carrying the running count, not one per datagram; stray datagrams a few log lines', async () => {
    const N = 500;
    const lines: string[] = [];
    let onLine = () => {};
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0' }, { log: (line) => (lines.push(line), onLine()) });
    const lineSeen = (pred: (l: string) => boolean, from: number) =>
      new Promise<void>((resolve) => {
        onLine = () => lines.slice(from).some(pred) && resolve();
        onLine();
      });
    const session = await rawSession(bridge.url);
    const stray = createSocket('udp4');
    try {
      session.send({ type: 'open', id: 1, command: 'udp', window: 65536 });
      const opened = await session.next((m) => m.id === 1);
      expect(opened).toMatchObject({ type: 'opened' });
      const started = performance.now();
      // Loopback is denied by the default policy: every one of these is refused.
      const datagram = encodeDataFrame(1, encodeUdpDatagram({ host: '127.0.0.1', port: 9, data: Buffer.from('x') }));
      for (let i = 0; i < N; i++) session.ws.send(datagram);
      const last = await session.next((m) => m.type === 'dropped' && m.dropped === N);
      const seconds = (performance.now() - started) / 1000;
      expect(last).toMatchObject({ id: 1, code: 'ERR_POLICY_DENIED', message: 'datagram to 127.0.0.1:9: 127.0.0.1 is in 127.0.0.0/8 (Loopback, RFC 1122), which is not globally reachable' });
      const notices = session.messages.filter((m) => m.type === 'dropped');
      // Each window of a second lets DROPPED_NOTICES_PER_SECOND through, plus the one that folds the rest.
      expect(notices.length).toBeLessThanOrEqual((DROPPED_NOTICES_PER_SECOND + 1) * Math.ceil(seconds + 1));
      expect(notices.length).toBeLessThan(N / 4);
      const counts = notices.map((m) => m.dropped as number);
      expect(counts).toEqual([...counts].sort((a, b) => a - b));
      expect(new Set(counts).size).toBe(counts.length);
      const logged = lines.filter((l) => l.includes('dropped a datagram'));
      expect(logged.length).toBe(notices.length);
      expect(logged.some((l) => /\(and \d+ more since the last notice\)$/.test(l))).toBe(true);

      // Datagrams from an address the stream never sent to: not relayed, logged at the same bounded rate.
      const port = opened.remotePort as number;
      const before = lines.length;
      const strays = performance.now();
      for (let i = 0; i < N; i++) stray.send('stray', port, '127.0.0.1');
      await new Promise<void>((resolve) => stray.send('last', port, '127.0.0.1', () => resolve()));
      // Messages on one WebSocket are ordered, and so is a session's handling of a UDP socket's datagrams: wait for
      // the folded notice that accounts for the strays sent past the first window.
      await lineSeen((l) => /never sent to \(and \d+ more/.test(l), before);
      const strayLines = lines.slice(before).filter((l) => l.includes('never sent to'));
      expect(strayLines.length).toBeLessThanOrEqual((DROPPED_NOTICES_PER_SECOND + 1) * Math.ceil((performance.now() - strays) / 1000 + 1));
      expect(session.frames).toEqual([]);
    } finally {
      stray.close();
      session.ws.close();
      await bridge.close();
    }
  });
});

describe('UDP direct to IPv6', () => {
  it('sends to and hears from an IPv6 destination (ATYP 04 ::1), and holds a connected stream to its target', async () => {
    const echo6 = createSocket('udp6');
    echo6.on('message', (m, r) => echo6.send(m, r.port, r.address));
    const bound = await new Promise<boolean>((resolve) => {
      echo6.once('error', () => resolve(false));
      echo6.bind(0, '::1', () => resolve(true));
    });
    if (!bound) {
      // A host without IPv6 loopback cannot take part; the bridge then refuses IPv6 datagrams with a reason,
      // which the policy battery covers. Nothing to prove here.
      echo6.close();
      return;
    }
    const port = echo6.address().port;
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '::1', ports: String(port) }] } });
    const session = await openSession(bridge.url);
    try {
      const free = session.openUdp(null);
      const info = await free.opened;
      const reader = info.readable.getReader();
      const writer = info.writable.getWriter();
      await writer.write({ data: Buffer.from('six'), remoteAddress: '::1', remotePort: port });
      const { value } = await reader.read();
      expect(Buffer.from(value!.data).toString()).toBe('six');
      expect(value!.remoteAddress).toBe('::1');
      free.close();
      // Connected to [::1]:port: a datagram elsewhere is refused, not sent.
      const held = session.openUdp({ host: '[0:0::1]', port });
      const heldInfo = await held.opened;
      const refused = new Promise<WsocksError>((resolve) => held.onRefused(resolve));
      const w = heldInfo.writable.getWriter();
      await w.write({ data: Buffer.from('elsewhere'), remoteAddress: '::1', remotePort: port + 1 === 65536 ? 1 : port + 1 });
      expect(await refused).toMatchObject({ code: 'ERR_POLICY_DENIED', message: expect.stringMatching(/held to its target \[::1\]/) });
      await w.write({ data: Buffer.from('home') });
      const r = heldInfo.readable.getReader();
      expect(Buffer.from((await r.read()).value!.data).toString()).toBe('home');
      held.close();
    } finally {
      session.close();
      await bridge.close();
      echo6.close();
    }
  });
});

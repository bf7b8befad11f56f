import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { startEcho, type Running } from '../helpers/net.ts';
import type { Peer } from '../helpers/peers.ts';
import { startHaproxy, startNginx } from '../helpers/proxies.ts';
import { selfSigned } from '../helpers/tls-cert.ts';

/** A session attempt: resolves with 'hello' once the bridge greets it, or the close code and reason. */
function session(
  port: number,
  o: { from?: string; headers?: Record<string, string>; proxyHeader?: Buffer } = {},
): Promise<{ result: 'hello'; ws: WebSocket } | { result: number; reason: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['wsocks.v1'], {
    ...(o.from ? { localAddress: o.from } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
    ...(o.proxyHeader
      ? {
          createConnection: () => {
            const s: Socket = connect({ host: '127.0.0.1', port, ...(o.from ? { localAddress: o.from } : {}) });
            s.write(o.proxyHeader!);
            return s;
          },
        }
      : {}),
  });
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('message', () => resolve({ result: 'hello', ws }));
    ws.once('close', (code, reason) => resolve({ result: code, reason: reason.toString() }));
  });
}

const v1 = (client: string) => Buffer.from(`PROXY TCP4 ${client} 127.0.0.1 40000 8080\r\n`);

describe('the bridge behind trusted proxies', () => {
  let echo: Running;
  let bridge: BridgeServer;
  const logs: string[] = [];
  const open: WebSocket[] = [];
  const keep = <T extends { result: unknown }>(r: T) => {
    if ('ws' in r) open.push(r.ws as WebSocket);
    return r;
  };

  beforeAll(async () => {
    echo = await startEcho();
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        trustedProxies: ['127.0.0.1/32'],
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: String(echo.port) }] },
        limits: { sessionsPerClient: 1 },
      },
      { log: (line) => logs.push(line) },
    );
  });

  afterAll(async () => {
    for (const ws of open) ws.close();
    await bridge.close();
    await echo.close();
  });

  it('takes the client address from a trusted peer\'s PROXY header: per-client limits and logs use it', async () => {
    const port = bridge.address.port;
    expect(keep(await session(port, { proxyHeader: v1('203.0.113.7') })).result).toBe('hello');
    expect(keep(await session(port, { proxyHeader: v1('203.0.113.8') })).result).toBe('hello');
    expect(await session(port, { proxyHeader: v1('203.0.113.7') })).toMatchObject({ result: 4429, reason: expect.stringMatching(/^ERR_TOO_MANY_SESSIONS/) });
    expect(logs.some((l) => l.startsWith('refused 203.0.113.7: ERR_TOO_MANY_SESSIONS'))).toBe(true);
  });

  it('cuts a trusted peer whose PROXY header is bad, without an answer; other sessions go on', async () => {
    const s = connect({ host: '127.0.0.1', port: bridge.address.port });
    s.write('PROXY TCP4 203.0.113.300 127.0.0.1 1 2\r\nGET / HTTP/1.1\r\n\r\n');
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    await once(s, 'close');
    expect(Buffer.concat(got).length).toBe(0);
    expect(logs.some((l) => l.includes('ERR_PROXY_HEADER_BAD'))).toBe(true);
    expect(keep(await session(bridge.address.port, { proxyHeader: v1('203.0.113.9') })).result).toBe('hello');
  });

  it('refuses an upgrade from a trusted peer that does not say who the client is (4400)', async () => {
    expect(await session(bridge.address.port)).toMatchObject({ result: 4400, reason: expect.stringContaining('trusted proxy') });
  });

  it('uses X-Forwarded-For from a trusted peer (rightmost untrusted hop), and ignores it from anyone else', async () => {
    const port = bridge.address.port;
    expect(keep(await session(port, { headers: { 'x-forwarded-for': '198.51.100.1, 127.0.0.1' } })).result).toBe('hello');
    expect(await session(port, { headers: { 'x-forwarded-for': '198.51.100.1' } })).toMatchObject({ result: 4429 });
    // An untrusted peer's headers and PROXY header are nobody's word: it is its own client.
    expect(keep(await session(port, { from: '127.0.0.3', headers: { 'x-forwarded-for': '198.51.100.50' } })).result).toBe('hello');
    expect(await session(port, { from: '127.0.0.3', headers: { 'x-forwarded-for': '198.51.100.51' } })).toMatchObject({ result: 4429 });
    expect(logs.some((l) => l.startsWith('refused 127.0.0.3: ERR_TOO_MANY_SESSIONS'))).toBe(true);
    expect(await session(port, { from: '127.0.0.3', proxyHeader: v1('198.51.100.52') })).not.toMatchObject({ result: 'hello' });
  });

  describe('with the configs in deploy/', () => {
    let haproxy: Peer;
    let nginx: Peer;
    beforeAll(async () => {
      haproxy = await startHaproxy([bridge.address]);
      nginx = await startNginx(bridge.address.port);
    }, 60_000);
    afterAll(async () => {
      await haproxy?.stop();
      await nginx?.stop();
    });

    for (const [name, proxy, a, b] of [
      ['HAProxy (send-proxy-v2)', () => haproxy, '127.0.0.4', '127.0.0.5'],
      ['nginx (X-Forwarded-For)', () => nginx, '127.0.0.6', '127.0.0.7'],
    ] as const) {
      it(`${name}: each client counts as itself, a WebSocket stream works through it`, async () => {
        const port = proxy().port;
        const first = keep(await session(port, { from: a }));
        expect(first.result).toBe('hello');
        // The client's made-up X-Forwarded-For is not believed.
        expect(await session(port, { from: a, headers: { 'x-forwarded-for': '192.0.2.77' } })).toMatchObject({ result: 4429 });
        expect(logs.some((l) => l.startsWith(`refused ${a}: ERR_TOO_MANY_SESSIONS`))).toBe(true);
        const second = keep(await session(port, { from: b }));
        expect(second.result).toBe('hello');
        // A stream through the proxy: open, echo.
        const ws = (second as { ws: WebSocket }).ws;
        const answers: Array<Record<string, unknown> | Buffer> = [];
        ws.on('message', (d: Buffer, bin) => answers.push(bin ? d : JSON.parse(String(d))));
        ws.send(JSON.stringify({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 }));
        while (!answers.some((m) => !Buffer.isBuffer(m) && m.type === 'opened')) await once(ws, 'message');
        ws.send(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('via proxy')]));
        while (!answers.some((m) => Buffer.isBuffer(m))) await once(ws, 'message');
        expect((answers.find((m) => Buffer.isBuffer(m)) as Buffer).subarray(4).toString()).toBe('via proxy');
      });
    }
  });
});

describe('closing a bridge with a trusted-proxy front', () => {
  it('does not wait for an idle keep-alive HTTP connection or a trusted peer stuck in its PROXY header', async () => {
    const bridge = await BridgeServer.start({ listen: '127.0.0.1:0', trustedProxies: ['127.0.0.1'] });
    const idle = connect({ host: '127.0.0.1', port: bridge.address.port, localAddress: '127.0.0.3' });
    idle.on('error', () => {});
    await once(idle, 'connect');
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = (await once(idle, 'data')) as [Buffer];
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 \d{3}/);
    const stuck = connect({ host: '127.0.0.1', port: bridge.address.port });
    stuck.on('error', () => {});
    await once(stuck, 'connect');
    stuck.write('PROXY TCP4 203.0.113.1');
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));
    const stuckClosed = new Promise((resolve) => stuck.once('close', resolve));
    await bridge.close();
    await Promise.all([idleClosed, stuckClosed]);
  });
});

describe('a TLS bridge behind a trusted proxy (PROXY header, then the TLS the bridge ends itself)', () => {
  let dir: string;
  let cert: { cert: string; key: string };
  let bridge: BridgeServer;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-proxy-tls-'));
    cert = await selfSigned(dir, 'bridge');
    bridge = await BridgeServer.start(
      { listen: '127.0.0.1:0', trustedProxies: ['127.0.0.1/32'], tls: cert, limits: { sessionsPerClient: 1 } },
      { log: (line) => logs.push(line) },
    );
  });
  afterAll(async () => {
    await bridge?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A wss:// session whose TCP connection starts with `header`. With `sameWrite`, the header and the TLS
   * ClientHello leave in one write (one TCP segment on loopback), as HAProxy's send-proxy-v2 often sends them; the
   * client writes through a Duplex so that it controls the raw bytes.
   */
  function tlsSession(header: Buffer, sameWrite: boolean): ReturnType<typeof session> {
    const port = bridge.address.port;
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, ['wsocks.v1'], {
      ca: readFileSync(cert.cert),
      createConnection: () => {
        const raw = connect({ host: '127.0.0.1', port });
        raw.setNoDelay(true);
        if (!sameWrite) raw.write(header);
        let first = sameWrite;
        const wire = new Duplex({
          write(chunk: Buffer, _enc, cb) {
            raw.write(first ? Buffer.concat([header, chunk]) : chunk, cb);
            first = false;
          },
          read() {
            raw.resume();
          },
          final(cb) {
            raw.end(cb);
          },
          destroy(err, cb) {
            raw.destroy();
            cb(err);
          },
        });
        raw.on('data', (d) => {
          if (!wire.push(d)) raw.pause();
        });
        raw.on('end', () => wire.push(null));
        raw.on('error', (err) => wire.destroy(err));
        return tlsConnect({ socket: wire, ca: readFileSync(cert.cert), host: '127.0.0.1' });
      },
    });
    ws.on('error', () => {});
    return new Promise((resolve) => {
      ws.once('message', () => resolve({ result: 'hello', ws }));
      ws.once('close', (code, reason) => resolve({ result: code, reason: reason.toString() }));
    });
  }

  it.each([
    // Both hung before the fix: even written apart, the two usually reach the bridge in one read.
    ['in a write of its own, right before the ClientHello', false, '203.0.113.20'],
    ['in the same write as the TLS ClientHello', true, '203.0.113.21'],
  ] as const)('takes the client address from a PROXY v2 header %s', async (_name, sameWrite, client) => {
    const first = await tlsSession(proxyV2(client), sameWrite);
    expect(first.result).toBe('hello');
    // The header's address counts: a second session from the same client is over sessionsPerClient.
    expect(await tlsSession(proxyV2(client), sameWrite)).toMatchObject({ result: 4429 });
    expect(logs.some((l) => l.startsWith(`refused ${client}: ERR_TOO_MANY_SESSIONS`))).toBe(true);
    (first as { ws: WebSocket }).ws.close();
  });

  it('through HAProxy (deploy/haproxy.cfg, send-proxy-v2, TLS passed through): each client counts as itself', async () => {
    const haproxy = await startHaproxy([bridge.address], { tlsBridges: true });
    const wss = (from: string) => {
      const ws = new WebSocket(`wss://127.0.0.1:${haproxy.port}/`, ['wsocks.v1'], { ca: readFileSync(cert.cert), localAddress: from });
      ws.on('error', () => {});
      return new Promise<{ result: 'hello'; ws: WebSocket } | { result: number; reason: string }>((resolve) => {
        ws.once('message', () => resolve({ result: 'hello', ws }));
        ws.once('close', (code, reason) => resolve({ result: code, reason: reason.toString() }));
      });
    };
    try {
      const a = await wss('127.0.0.8');
      expect(a.result).toBe('hello');
      expect(await wss('127.0.0.8')).toMatchObject({ result: 4429 });
      expect(logs.some((l) => l.startsWith('refused 127.0.0.8: ERR_TOO_MANY_SESSIONS'))).toBe(true);
      const b = await wss('127.0.0.9');
      expect(b.result).toBe('hello');
      for (const r of [a, b]) (r as { ws: WebSocket }).ws.close();
    } finally {
      await haproxy.stop();
    }
  });
});

/** A PROXY v2 header (PROXY command, TCP over IPv4) naming `client` port 40000 -> 127.0.0.1:8080. */
function proxyV2(client: string): Buffer {
  const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  const body = [...client.split('.').map(Number), 127, 0, 0, 1, 40000 >> 8, 40000 & 0xff, 8080 >> 8, 8080 & 0xff];
  return Buffer.from([...sig, 0x21, 0x11, 0, body.length, ...body]);
}

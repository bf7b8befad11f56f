import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { userInfo } from 'node:os';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { encodeSocks4Request, encodeSocks5Request, fromHex, toHex } from '../../shared/socks/index.ts';
import { RawClient, startEcho, type Running } from '../helpers/net.ts';
import { startOidentd, type Peer } from '../helpers/peers.ts';
import { runCli } from '../helpers/cli.ts';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { freePort } from '../../server/net/listen.ts';
import { openSession, roundTrip } from '../helpers/bridge.ts';

// Every identd here listens on the real port 113 (root), each on its own loopback address, and the SOCKS client
// connects from that address: the server asks the identd at the client's address, as it would on a network. The
// addresses are picked at random per run, so that two runs of this file on one machine do not meet.
const NET = `127.${100 + Math.floor(Math.random() * 150)}.${Math.floor(Math.random() * 256)}`;
const at = (n: number) => `${NET}.${n}`;
const OIDENTD = at(2);
const NOBODY = at(3);
const ME = userInfo().username;

interface FakeIdentd {
  /** Each query line received, as text. */
  queries: string[];
  /** Resolves when every connection the fake accepted has closed. */
  allClosed(): Promise<void>;
  accepted: number;
  close(): Promise<void>;
}

/** A hostile or scripted identd on `address`:113; `answer` gets each connection and the first query line. */
async function fakeIdentd(address: string, answer: (socket: Socket, query: string) => void, port = 113): Promise<FakeIdentd & { port: number }> {
  const sockets = new Set<Socket>();
  const closed: Array<Promise<unknown>> = [];
  const state = { queries: [] as string[], accepted: 0 };
  const server: Server = createServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    closed.push(new Promise((resolve) => socket.once('close', resolve)));
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (!text.includes('\n')) return;
      socket.off('data', onData);
      state.queries.push(text);
      answer(socket, text);
    };
    socket.on('data', onData);
  });
  server.listen(port, address);
  await once(server, 'listening');
  return {
    get queries() {
      return state.queries;
    },
    get accepted() {
      return state.accepted;
    },
    port: (server.address() as { port: number }).port,
    allClosed: async () => void (await Promise.all(closed)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The two ports of a query line "<client port> , <server port>\r\n". */
function queryPorts(query: string): [string, string] {
  const m = /^(\d+) , (\d+)\r\n$/.exec(query);
  if (!m) throw new Error(`not a query: ${JSON.stringify(query)}`);
  return [m[1]!, m[2]!];
}

describe('SOCKS4 identd check (RFC 1413)', () => {
  let echo: Running;
  let server: SocksServer;
  let quick: SocksServer;
  let oidentd: Peer;
  const log: SocksLogEntry[] = [];
  const fakes: FakeIdentd[] = [];

  beforeAll(async () => {
    echo = await startEcho();
    oidentd = await startOidentd(OIDENTD);
    // Generous for the real oidentd on a busy machine; `quick` is for identds that never finish answering.
    server = await SocksServer.start({ port: 0, identd: { timeoutMs: 10_000 } }, (e) => log.push(e));
    quick = await SocksServer.start({ port: 0, identd: { timeoutMs: 300 } }, (e) => log.push(e));
  });
  afterAll(async () => {
    await server?.close();
    await quick?.close();
    await oidentd?.stop();
    await echo?.close();
    for (const f of fakes) await f.close();
  });

  async function socks4(from: string, userId: string, options: { via?: SocksServer; socks4a?: boolean } = {}): Promise<{ client: RawClient; code: string }> {
    const via = options.via ?? server;
    const client = await RawClient.connect(via.address.port, '127.0.0.1', from);
    const host = options.socks4a ? 'localhost' : '127.0.0.1';
    client.send(encodeSocks4Request({ command: 1, host, port: echo.port, userId, socks4a: options.socks4a ?? false }));
    const reply = await client.read(8);
    return { client, code: toHex(reply.subarray(0, 2)) };
  }

  async function fake(n: number, answer: (socket: Socket, query: string) => void): Promise<FakeIdentd> {
    const f = await fakeIdentd(at(n), answer);
    fakes.push(f);
    return f;
  }

  const lastLog = (from: string) => log.filter((e) => e.client === from).at(-1);

  it('grants a SOCKS4 request whose USERID the real oidentd confirms, and relays', async () => {
    const { client, code } = await socks4(OIDENTD, ME);
    expect(code).toBe('00 5a');
    client.send('hello');
    expect((await client.read(5)).toString()).toBe('hello');
    client.destroy();
  });

  it('grants a SOCKS4a request the same way', async () => {
    const { client, code } = await socks4(OIDENTD, ME, { socks4a: true });
    expect(code).toBe('00 5a');
    client.destroy();
  });

  it('answers 0x5D when oidentd names another user than the USERID, or the USERID is empty', async () => {
    for (const userId of ['mallory', '', `${ME} `]) {
      const { client, code } = await socks4(OIDENTD, userId);
      expect(code).toBe('00 5d');
      await client.closed;
      expect(lastLog(OIDENTD)).toMatchObject({ event: 'denied', version: 4, code: 'ERR_IDENT_USER_MISMATCH' });
    }
    expect(lastLog(OIDENTD)?.reason).toContain(`identd names "${ME}"`);
  });

  it('answers 0x5C when nothing listens on port 113 at the client', async () => {
    const { client, code } = await socks4(NOBODY, ME);
    expect(code).toBe('00 5c');
    await client.closed;
    expect(lastLog(NOBODY)).toMatchObject({ event: 'denied', code: 'ERR_IDENT_UNREACHABLE' });
    expect(lastLog(NOBODY)?.reason).toContain('ECONNREFUSED');
  });

  it('does not ask identd for SOCKS5', async () => {
    const client = await RawClient.connect(server.address.port, '127.0.0.1', NOBODY);
    client.send(Buffer.concat([fromHex('05 01 00'), encodeSocks5Request({ command: 1, host: '127.0.0.1', port: echo.port })]));
    expect(toHex(await client.read(4))).toBe('05 00 05 00');
    client.destroy();
  });

  it('sends "<client port> , <server port>" from the address the client reached, and takes a well-formed answer', async () => {
    let identdSawFrom = '';
    const f = await fake(10, (socket, query) => {
      identdSawFrom = socket.remoteAddress ?? '';
      const [c, s] = queryPorts(query);
      socket.end(`${c},${s}:USERID:UNIX , UTF-8:  ${'über'}\r\n`);
    });
    const client = await RawClient.connect(server.address.port, '127.0.0.1', at(10));
    client.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: 'über' }));
    expect(toHex((await client.read(8)).subarray(0, 2))).toBe('00 5a');
    expect(f.queries).toEqual([`${client.socket.localPort} , ${server.address.port}\r\n`]);
    expect(identdSawFrom).toBe('127.0.0.1');
    client.destroy();
    await f.allClosed();
  });

  it('answers 0x5D to an identd ERROR reply', async () => {
    const f = await fake(11, (socket, query) => {
      const [c, s] = queryPorts(query);
      socket.end(`${c} , ${s} : ERROR : HIDDEN-USER\r\n`);
    });
    const { client, code } = await socks4(at(11), ME);
    expect(code).toBe('00 5d');
    await client.closed;
    expect(lastLog(at(11))).toMatchObject({ code: 'ERR_IDENT_ERROR_REPLY', reason: expect.stringContaining('HIDDEN-USER') });
    await f.allClosed();
  });

  // Hostile identds: each gets 0x5C within the check's timeout, and the server's connection to it is closed.
  it.each([
    ['garbage', 'ERR_IDENT_BAD_REPLY', (socket: Socket) => void socket.write('HTTP/1.1 400 Bad Request\r\n\r\n')],
    ['a reply about other ports', 'ERR_IDENT_PORT_MISMATCH', (socket: Socket, query: string) => {
      const [c, s] = queryPorts(query);
      socket.write(`${s} , ${c} : USERID : UNIX : ${ME}\r\n`);
    }],
    ['a line that never ends', 'ERR_IDENT_REPLY_TOO_LONG', (socket: Socket) => {
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const more = () => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', more);
      more();
    }],
    ['silence', 'ERR_IDENT_TIMEOUT', (_socket: Socket) => {}],
    ['half an answer, then silence', 'ERR_IDENT_TIMEOUT', (socket: Socket, query: string) => {
      const [c, s] = queryPorts(query);
      socket.write(`${c} , ${s} : USERID : UNIX : ${ME}`);
    }],
    ['a close without an answer', 'ERR_IDENT_NO_REPLY', (socket: Socket) => void socket.end()],
    ['a reset', 'ERR_IDENT_UNREACHABLE', (socket: Socket) => void socket.resetAndDestroy()],
  ] as const)('answers 0x5C to an identd that sends %s (%s)', async (_name, errorCode, answer) => {
    const n = 20 + fakes.length;
    const f = await fake(n, answer);
    // Only identds that never finish need the short timeout; prompt ones get the long one, so a slow machine
    // cannot turn their answer into a timeout.
    const { client, code } = await socks4(at(n), ME, { via: errorCode === 'ERR_IDENT_TIMEOUT' ? quick : server });
    expect(code).toBe('00 5c');
    await client.closed;
    expect(lastLog(at(n))).toMatchObject({ event: 'denied', version: 4, code: errorCode });
    expect(f.accepted).toBe(1);
    await f.allClosed();
  });

  // USERID octets as they come (RFC 1413 §6: everything after the colon up to the end of line, any octets but NUL):
  // compared with the request's USERID octet for octet.
  it.each([
    ['colons and high octets, the same as the request', Buffer.from('a:b\xff\xfe:', 'latin1'), Buffer.from('a:b\xff\xfe:', 'latin1'), '\r\n', '00 5a'],
    ['UTF-8, the same as the request (charset named)', Buffer.from('jürgen', 'utf8'), Buffer.from('jürgen', 'utf8'), '\r\n', '00 5a'],
    ['the same user id ended by a lone CR', Buffer.from('alice'), Buffer.from('alice'), '\r', '00 5a'],
    ['the same user id ended by a lone LF', Buffer.from('alice'), Buffer.from('alice'), '\n', '00 5a'],
    ['the user id with a trailing space', Buffer.from('alice '), Buffer.from('alice'), '\r\n', '00 5d'],
    ['the user id in another case', Buffer.from('ALICE'), Buffer.from('alice'), '\r\n', '00 5d'],
    ['a prefix of the request', Buffer.from('ali'), Buffer.from('alice'), '\r\n', '00 5d'],
    ['the request followed by a NUL and more', Buffer.from('alice\u0000root'), Buffer.from('alice'), '\r\n', '00 5c'],
    ['a DEL and a bell in the user id', Buffer.from('al\u007fi\u0007ce'), Buffer.from('al\u007fi\u0007ce'), '\r\n', '00 5a'],
  ] as const)('a USERID reply of %s: %s', async (_what, replied, requested, eol, expected) => {
    const n = 50 + fakes.length;
    const f = await fake(n, (socket, query) => {
      const [c, s] = queryPorts(query);
      socket.end(Buffer.concat([Buffer.from(`${c} , ${s} : USERID : UNIX , UTF-8 : `), replied, Buffer.from(eol)]));
    });
    const client = await RawClient.connect(server.address.port, '127.0.0.1', at(n));
    client.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: requested }));
    expect(toHex((await client.read(8)).subarray(0, 2))).toBe(expected);
    client.destroy();
    await f.allClosed();
    if (expected !== '00 5a') expect(lastLog(at(n))).toMatchObject({ event: 'denied', version: 4 });
  });

  it('a client that resets right after its request: no crash, the identd connection and the client slot are freed', async () => {
    const f = await fake(45, (socket, query) => {
      const [c, s] = queryPorts(query);
      socket.end(`${c} , ${s} : USERID : UNIX : ${ME}\r\n`);
    });
    for (let i = 0; i < 5; i++) {
      const client = await RawClient.connect(server.address.port, '127.0.0.1', at(45));
      client.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: ME }));
      client.socket.resetAndDestroy();
    }
    await server.whenIdle();
    expect(server.stats().connections).toBe(0);
    await f.allClosed();
    // Still serving.
    const { client, code } = await socks4(at(45), ME);
    expect(code).toBe('00 5a');
    client.destroy();
  });

  it('closes its identd connection when the client leaves during the check', async () => {
    // The client's socket is paused after its request (bytes it pipelines are kept for the target), so its leaving
    // is seen when the check ends: the check's timeout bounds what a vanished client costs.
    const f = await fake(40, () => {});
    const client = await RawClient.connect(quick.address.port, '127.0.0.1', at(40));
    client.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId: ME }));
    while (f.queries.length === 0) await new Promise((r) => setTimeout(r, 20));
    client.destroy();
    await f.allClosed();
    await quick.whenIdle();
    expect(quick.stats().connections).toBe(0);
  });

  it('asks another port when told to (identd.port)', async () => {
    const f = await fakeIdentd('127.0.0.1', (socket, query) => {
      const [c, s] = queryPorts(query);
      socket.end(`${c} , ${s} : USERID : UNIX : ${ME}\r\n`);
    }, 0);
    fakes.push(f);
    const other = await SocksServer.start({ port: 0, identd: { timeoutMs: 10_000, port: f.port } });
    try {
      const { client, code } = await socks4('127.0.0.1', ME, { via: other });
      expect(code).toBe('00 5a');
      client.destroy();
    } finally {
      await other.close();
    }
  });

  it('wsocks socks --identd checks SOCKS4 requests', async () => {
    const cli = runCli(['socks', '--listen', '127.0.0.1:0', '--identd', '--quiet']);
    try {
      const banner = await cli.banner;
      expect(banner).toContain('SOCKS4/4a checked by identd');
      const port = Number(/:(\d+) /.exec(banner)![1]);
      for (const [from, userId, expected] of [[OIDENTD, ME, '00 5a'], [OIDENTD, 'mallory', '00 5d'], [NOBODY, ME, '00 5c']] as const) {
        const client = await RawClient.connect(port, '127.0.0.1', from);
        client.send(encodeSocks4Request({ command: 1, host: '127.0.0.1', port: echo.port, userId }));
        expect(toHex((await client.read(8)).subarray(0, 2))).toBe(expected);
        client.destroy();
      }
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exit).toBe(0);
    }
  });

  it('answers 0x5C once oidentd is gone, and leaves no connection open', async () => {
    await oidentd.stop();
    const { client, code } = await socks4(OIDENTD, ME);
    expect(code).toBe('00 5c');
    await client.closed;
    await server.whenIdle();
    await quick.whenIdle();
    expect(server.stats()).toEqual({ connections: 0, bindListeners: 0, udpAssociations: 0 });
  });

  it('refuses a bad identd option', async () => {
    await expect(SocksServer.start({ port: 0, identd: { timeoutMs: 0 } })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(SocksServer.start({ port: 0, identd: { timeoutMs: 100, port: 70000 } })).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });
});

describe('a bridge route through a SOCKS4 hop that checks identd', () => {
  let echo: Running;
  let oidentd: Peer;
  let ours: SocksServer;
  let bridge: BridgeServer;

  beforeAll(async () => {
    echo = await startEcho();
    // The bridge connects from 127.0.0.1: oidentd there on a free port (not 113, which another run may hold).
    oidentd = await startOidentd('127.0.0.1', await freePort());
    ours = await SocksServer.start({ port: 0, identd: { timeoutMs: 10_000, port: oidentd.port } });
    bridge = await BridgeServer.start({ listen: '127.0.0.1:0', policy: { allow: [{ cidr: '127.0.0.0/8' }] }, clientChains: true });
  });
  afterAll(async () => {
    await bridge?.close();
    await ours?.close();
    await oidentd?.stop();
    await echo?.close();
  });

  it("passes with the bridge process's own user as USERID, and fails hop 1 with 0x5D, explained, with another", async () => {
    const session = await openSession(bridge.url);
    try {
      const hop = (username: string) => [{ type: 'socks4' as const, host: '127.0.0.1', port: ours.address.port, username }];
      const good = session.open({ host: '127.0.0.1', port: echo.port }, { via: hop(ME) });
      expect(await roundTrip(await good.opened, 'identd ok')).toBe('identd ok');
      const bad = session.open({ host: '127.0.0.1', port: echo.port }, { via: hop('mallory'), inspect: true });
      await expect(bad.opened).rejects.toMatchObject({ code: 'ERR_HOP_FAILED', hop: 1, replyCode: 0x5d });
      const reply = bad.transcript.find((e) => e.kind === 'socks4.reply')!;
      expect(reply.hex.startsWith('00 5d')).toBe(true);
      expect(reply.fields.find((f) => f.label === 'CD')?.meaning).toMatch(/identd/);
    } finally {
      session.close();
    }
  });
});

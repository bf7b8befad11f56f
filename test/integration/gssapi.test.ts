/**
 * GSS-API (RFC 1961) with real Kerberos: a realm made on loopback by test/helpers/krb5-realm.ts, our SOCKS server as
 * the acceptor and the bridge's GSS-API hops as the initiator, at each protection level, with MIT Kerberos doing the
 * cryptography on both sides. If the realm cannot be made (packages missing, KDC does not start), beforeAll throws
 * and every test fails with the reason.
 *
 * Third-party peers (Dante built with GSS-API) are in gssapi-dante.test.ts. Debian 12's own danted is built without GSS-API (`socksmethod: gssapi`
 * is refused at start) and no curl that runs on Debian 12 (7.88.1, backports' 8.14.1) can finish SOCKS5 GSS-API
 * (docs/socks-server.md, GSS-API).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import type { WsocksError } from '../../shared/protocol/errors.ts';
import { openRefusal, openSession, roundTrip } from '../helpers/bridge.ts';
import { startEcho, RawClient, type Running } from '../helpers/net.ts';
import { startRealm, type Realm } from '../helpers/krb5-realm.ts';
import { startScripted } from '../helpers/scripted-target.ts';
import { runCli } from '../helpers/cli.ts';
import { encodeGssMessage } from '../../shared/socks/gssapi.ts';
import { RestartingHelper } from '../../server/gssapi/gss-helper.ts';

type Wrap = (data: Uint8Array) => Promise<Buffer>;
const msg = (type: number, token: Uint8Array) => Buffer.from(encodeGssMessage(type, token));

/** Pids of this process's GSS-API helper processes (gss-helper.py), from /proc. */
function gssHelpers(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('gss-helper.py')) pids.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return pids.sort((a, b) => a - b);
}

describe('GSS-API with a Kerberos realm on loopback', () => {
  let realm: Realm;
  let aliceKeytab: string;
  let bobKeytab: string;
  let serviceKeytab: string;
  let aliceCache: string;
  let echo: Running;
  /** Clear only (the default): what curl needs. Rules let only alice through. */
  let clearOnly: SocksServer;
  /** Every level: for the bridge's encapsulation. */
  let allLevels: SocksServer;
  /** Holds the key of another host's service: every ticket for rcmd/localhost fails to decrypt. */
  let wrongKey: SocksServer;
  const logs = new Map<SocksServer, SocksLogEntry[]>();
  let bridge: BridgeServer;
  const bridgeLog: string[] = [];
  const savedEnv = { ...process.env };

  const startServer = async (keytab: string, protection?: Array<'clear' | 'integrity' | 'confidentiality'>, rules?: unknown) => {
    const entries: SocksLogEntry[] = [];
    const server = await SocksServer.start(
      { port: 0, gssapi: { keytab, service: 'rcmd', ...(protection ? { protection } : {}) }, ...(rules ? { rules: rules as never } : {}) },
      (e) => entries.push(e),
    );
    logs.set(server, entries);
    return server;
  };

  beforeAll(async () => {
    realm = await startRealm();
    aliceKeytab = realm.addPrincipal('alice');
    bobKeytab = realm.addPrincipal('bob');
    serviceKeytab = realm.addPrincipal('rcmd/localhost');
    const otherKeytab = realm.addPrincipal('rcmd/otherhost');
    aliceCache = `FILE:${join(realm.dir, 'alice.cc')}`;
    realm.kinit('alice', aliceKeytab, aliceCache);
    // The bridge and the servers run in this process; their helpers inherit the realm's config from here.
    Object.assign(process.env, realm.env);
    echo = await startEcho();
    clearOnly = await startServer(serviceKeytab, undefined, [{ action: 'allow', user: ['alice@WSOCKS.TEST'] }]);
    allLevels = await startServer(serviceKeytab, ['clear', 'integrity', 'confidentiality']);
    wrongKey = await startServer(otherKeytab, ['clear', 'integrity', 'confidentiality']);
    const hop = (server: SocksServer, extra: Record<string, unknown>) => [{ type: 'socks5', host: 'localhost', port: server.address.port, auth: 'gssapi', ...extra }];
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      routes: {
        confidentiality: hop(allLevels, { keytab: aliceKeytab }),
        integrity: hop(allLevels, { keytab: aliceKeytab, protection: 'integrity', service: 'rcmd/localhost' }),
        nec: hop(clearOnly, { ccache: aliceCache, protection: 'clear', nec: true }),
        downgrade: hop(clearOnly, { keytab: aliceKeytab }),
        bob: hop(clearOnly, { keytab: bobKeytab, protection: 'clear' }),
        wrongKey: hop(wrongKey, { keytab: aliceKeytab }),
        noTicket: hop(allLevels, { ccache: `FILE:${join(realm.dir, 'empty.cc')}` }),
        unknownService: hop(allLevels, { keytab: aliceKeytab, service: 'nosuch@localhost' }),
        missingKeytab: hop(allLevels, { keytab: join(realm.dir, 'secret-dir', 'bridge.keytab') }),
      } as never,
    }, { log: (line) => bridgeLog.push(line) });
  }, 120_000);

  afterAll(async () => {
    await bridge?.close();
    for (const s of [clearOnly, allLevels, wrongKey]) await s?.close();
    await echo?.close();
    await realm?.stop();
    for (const key of ['KRB5_CONFIG', 'KRB5_KDC_PROFILE']) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  it('requires GSS-API: a SOCKS5 client offering only no-auth gets 0xFF, a SOCKS4 request 0x5B', async () => {
    const a = await RawClient.connect(clearOnly.address.port);
    a.send(Buffer.from([5, 1, 0]));
    expect([...(await a.read(2))]).toEqual([5, 0xff]);
    a.destroy();
    const b = await RawClient.connect(clearOnly.address.port);
    b.send(Buffer.from([4, 1, 0, 80, 127, 0, 0, 1, 0]));
    expect((await b.read(8))[1]).toBe(0x5b);
    b.destroy();
  });

  async function open(route: string): Promise<{ entries: TranscriptEntry[]; info: Awaited<ReturnType<typeof openOnce>>; close: () => void }> {
    const session = await openSession(bridge.url);
    const entries: TranscriptEntry[] = [];
    const info = await openOnce(session, route, entries);
    return { entries, info, close: () => session.close() };
  }
  async function openOnce(session: Awaited<ReturnType<typeof openSession>>, route: string, entries: TranscriptEntry[]) {
    const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route, inspect: true });
    socket.onTranscript((e) => entries.push(e));
    return socket.opened;
  }
  const failure = (route: string) => openRefusal(bridge.url, { host: '127.0.0.1', port: echo.port }, route);

  it.each([
    ['confidentiality', 0x02],
    ['integrity', 0x01],
  ])('the bridge authenticates to the proxy and carries the stream encapsulated with %s', async (route, level) => {
    const { entries, info, close } = await open(route);
    const big = 'k'.repeat(150_000);
    expect(await roundTrip(info, big)).toBe(big);
    close();
    const kinds = entries.filter((e) => e.hop === 1).map((e) => `${e.direction} ${e.kind}`);
    expect(kinds).toEqual([
      'sent socks5.greeting',
      'received socks5.method',
      'local gssapi',
      'sent gssapi.context',
      'received gssapi.context',
      'sent gssapi.protection',
      'received gssapi.protection',
      'sent socks5.request',
      'received socks5.reply',
    ]);
    const context = entries.find((e) => e.kind === 'gssapi.context')!;
    expect(context.fields.map((f) => f.label)).toEqual(['VER', 'MTYP', 'LEN', 'TOKEN']);
    expect(context.fields[3]!.meaning).toContain('Kerberos V5');
    expect(entries.find((e) => e.kind === 'socks5.request')!.note).toContain(level === 2 ? 'confidentiality' : 'integrity');
    expect(logs.get(allLevels)).toContainEqual(expect.objectContaining({ event: 'request', user: 'alice@WSOCKS.TEST' }));
  });

  it('the NEC style with clear protection, from a credential cache', async () => {
    const { entries, info, close } = await open('nec');
    expect(await roundTrip(info, 'nec hello')).toBe('nec hello');
    close();
    const protection = entries.filter((e) => e.kind === 'gssapi.protection');
    expect(protection.map((e) => e.hex)).toEqual(['01 02 00 01 00', '01 02 00 01 00']);
  });

  it('a ticket the server cannot decrypt: the server aborts (ERR_GSSAPI_FAILED in its log), the bridge reports ERR_GSSAPI_REJECTED', async () => {
    const before = logs.get(wrongKey)!.length;
    const err = await failure('wrongKey');
    expect(err.code).toBe('ERR_GSSAPI_REJECTED');
    expect(err.hop).toBe(1);
    expect(logs.get(wrongKey)!.slice(before)).toContainEqual(expect.objectContaining({ event: 'denied', code: 'ERR_GSSAPI_FAILED' }));
  });

  it.each([
    ['downgrade', 'ERR_GSSAPI_PROTECTION'],
    ['noTicket', 'ERR_GSSAPI_FAILED'],
    ['unknownService', 'ERR_GSSAPI_FAILED'],
  ])('route %s is refused with %s on hop 1', async (route, code) => {
    const err = await failure(route);
    expect(err.code).toBe(code);
    expect(err.hop).toBe(1);
  });

  it('GSS-API words that name a credential cache or keytab reach the browser without the path; the bridge log has it', async () => {
    // GSS-API names the credential cache: its file (FILE:/tmp/...), or the helper's MEMORY: copy of it.
    for (const route of ['noTicket', 'missingKeytab']) {
      const before = bridgeLog.length;
      const err = await failure(route);
      expect(err.code).toBe('ERR_GSSAPI_FAILED');
      expect(err.message).not.toContain(realm.dir);
      expect(err.message).not.toMatch(/FILE:|MEMORY:/);
      expect(err.message).toContain('[path]');
      await expect.poll(() => bridgeLog.slice(before).join('\n')).toMatch(/\(detail: .*(FILE|MEMORY):/);
    }
  });

  it('a principal the server\'s rules do not allow is refused with REP 0x02 after authenticating', async () => {
    const err = await failure('bob');
    expect(err.code).toBe('ERR_HOP_FAILED');
    expect(err.replyCode).toBe(2);
    expect(logs.get(clearOnly)).toContainEqual(expect.objectContaining({ event: 'denied', user: 'bob@WSOCKS.TEST' }));
  });

  it('a hostile client: garbage tokens, a wrong message type, a truncated message, a close mid-exchange; the server carries on', async () => {
    const before = logs.get(allLevels)!.length;
    const greet = async () => {
      const c = await RawClient.connect(allLevels.address.port);
      c.send(Buffer.from([5, 1, 1]));
      expect([...(await c.read(2))]).toEqual([5, 1]);
      return c;
    };
    // A context token that is not one: the acceptor fails, the server sends the abort and closes.
    const garbage = await greet();
    garbage.send(encodeGssMessage(0x01, Buffer.from('not a kerberos token at all')));
    expect([...(await garbage.readToEnd())]).toEqual([1, 0xff]);
    // A protection message before any context: abort.
    const early = await greet();
    early.send(Buffer.from([1, 2, 0, 1, 0]));
    expect([...(await early.readToEnd())]).toEqual([1, 0xff]);
    // Version 5 where 1 belongs: abort.
    const badVersion = await greet();
    badVersion.send(Buffer.from([5, 1, 0, 1, 0]));
    expect([...(await badVersion.readToEnd())]).toEqual([1, 0xff]);
    // A flood behind a context token: refused, not buffered.
    const flood = await greet();
    flood.send(Buffer.concat([encodeGssMessage(0x01, Buffer.from('x')), Buffer.alloc(300_000)]));
    await flood.readToEnd();
    // Half a message, then the client leaves.

    const half = await greet();
    half.send(Buffer.from([1, 1, 0xff]));
    half.socket.end();
    await half.readToEnd();
    await allLevels.whenIdle();
    const codes = logs.get(allLevels)!.slice(before).map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining(['ERR_GSSAPI_FAILED', 'ERR_GSSAPI_BAD_MESSAGE', 'ERR_SOCKS_BAD_VERSION']));
    // And a real client still gets through.
    const { info, close } = await open('confidentiality');
    expect(await roundTrip(info, 'still here')).toBe('still here');
    close();
  });

  // A raw client with a real context (an initiator helper with alice's keytab), then hostile at the protection-level
  // subnegotiation (RFC 1961 §4) or after: the server ends each with a coded log entry and leaves nothing open.
  it.each([
    ['an abort', (_wrap: Wrap) => Promise.resolve(Buffer.from([1, 0xff]))],
    ['the level unwrapped (not a wrap token)', () => Promise.resolve(Buffer.from([1, 2, 0, 1, 2]))],
    ['a wrapped level of two bytes', async (wrap: Wrap) => msg(2, await wrap(Buffer.from([2, 2])))],
    ['a wrapped level 0x00', async (wrap: Wrap) => msg(2, await wrap(Buffer.from([0])))],
    ['a wrapped level 0x07', async (wrap: Wrap) => msg(2, await wrap(Buffer.from([7])))],
    ['another context token', () => Promise.resolve(msg(1, Buffer.from('more')))],
    ['encapsulated data before the level', async (wrap: Wrap) => msg(3, await wrap(Buffer.from('GET / HTTP/1.0\r\n')))],
    ['LEN 65535 with 10 bytes, then FIN', () => Promise.resolve(Buffer.concat([Buffer.from([1, 2, 0xff, 0xff]), Buffer.alloc(10)]))],
    ['nothing (FIN)', () => Promise.resolve(Buffer.alloc(0))],
    ['three level messages at once, then a flood', async (wrap: Wrap) => {
      const one = msg(2, await wrap(Buffer.from([2])));
      return Buffer.concat([one, one, one, Buffer.alloc(200_000, 1)]);
    }],
  ] as const)('after a real context, %s at the protection step: coded, closed, nothing left', async (_what, make) => {
    const server = allLevels;
    const before = logs.get(server)!.length;
    const init = await RestartingHelper.start({ role: 'initiate', env: { KRB5_CLIENT_KTNAME: `FILE:${aliceKeytab}`, KRB5CCNAME: 'MEMORY:red' } });
    try {
      const ctx = (await init.get()).context('rcmd@localhost');
      const c = await RawClient.connect(server.address.port);
      c.send(Buffer.from([5, 1, 1]));
      expect([...(await c.read(2))]).toEqual([5, 1]);
      let step = await ctx.step(new Uint8Array(0));
      c.send(msg(1, step.token));
      while (!step.complete) {
        const head = await c.read(4);
        expect([head[0], head[1]]).toEqual([1, 1]);
        step = await ctx.step(await c.read(head.readUInt16BE(2)));
      }
      const bytes = await make((data) => ctx.wrap(data, false).then(Buffer.from));
      if (bytes.length > 0) c.send(bytes);
      c.socket.end();
      const rest = await c.readToEnd();
      // Either the abort, or a level reply then the end, or just the end: never more than that.
      expect(rest.length).toBeLessThan(200);
      await server.whenIdle();
      expect(server.stats().connections).toBe(0);
      const mine = logs.get(server)!.slice(before);
      expect(mine.every((e) => e.code === undefined || /^ERR_[A-Z_]+$/.test(e.code))).toBe(true);
    } finally {
      await init.close();
    }
    // And a real client still gets through.
    const { info, close } = await open('confidentiality');
    expect(await roundTrip(info, 'still here')).toBe('still here');
    close();
  });

  // A hostile GSS-API proxy against the bridge's initiator: it selects GSS-API, reads the bridge's first context
  // token, then answers with `reply` and ends. Each is a coded stream error; the bridge serves on.
  it.each([
    ['an abort', Buffer.from([1, 0xff])],
    ['a context token that is not one', Buffer.concat([Buffer.from([1, 1, 0, 4]), Buffer.from('junk')])],
    ['LEN 65535 with 10 bytes', Buffer.concat([Buffer.from([1, 1, 0xff, 0xff]), Buffer.alloc(10)])],
    ['version 5', Buffer.from([5, 1, 0, 1, 0])],
    ['a protection message before any context', Buffer.from([1, 2, 0, 1, 2])],
    ['nothing', Buffer.alloc(0)],
    ['a flood of one-byte tokens', Buffer.concat(Array.from({ length: 50_000 }, () => Buffer.from([1, 1, 0, 1, 0])))],
  ])('a proxy answering the first context token with %s: a coded error, the bridge serves on', async (_what, reply) => {
    const proxy = await startScripted();
    proxy.script = (s) => {
      let greeted = false;
      s.on('data', () => {
        // The greeting, then the first context token (each its own read: the bridge waits for our answers).
        if (!greeted) s.write(Buffer.from([5, 1]));
        else s.end(reply);
        greeted = true;
      });
      s.once('end', () => s.end());
    };
    const hostile = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      routes: { r: [{ type: 'socks5', host: 'localhost', port: proxy.port, auth: 'gssapi', keytab: aliceKeytab }] } as never,
    });
    try {
      const session = await openSession(hostile.url);
      const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route: 'r', inspect: true });
      const err = (await socket.opened.then(() => undefined, (e: WsocksError) => e)) as WsocksError | undefined;
      expect(err?.code).toMatch(/^ERR_(GSSAPI_[A-Z]+|HOP_FAILED)$/);
      session.close();
      await session.closed;
    } finally {
      await hostile.close();
      await proxy.close();
    }
    const { info, close } = await open('confidentiality');
    expect(await roundTrip(info, 'still here')).toBe('still here');
    close();
  });

  it('the acceptor helper killed (SIGKILL) while calls go to it: every call fails, nothing crashes, the next helper serves', async () => {
    const before = gssHelpers();
    const restarting = await RestartingHelper.start({ role: 'accept', service: 'rcmd@localhost', env: { KRB5_KTNAME: `FILE:${serviceKeytab}` } });
    try {
      const helper = await restarting.get();
      const [pid] = gssHelpers().filter((p) => !before.includes(p));
      expect(pid).toBeDefined();
      process.kill(pid!, 'SIGKILL');
      // Keep calling until the helper's death is seen: calls written after it died (EPIPE on its stdin) must fail
      // like the others, not throw out of the process.
      const outcomes: Array<Promise<string>> = [];
      while (helper.alive) {
        outcomes.push(helper.context().step(Buffer.from('not a token')).then(() => 'answered', () => 'failed'));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const settled = await Promise.all(outcomes);
      expect(settled.length).toBeGreaterThan(0);
      expect(settled.every((r) => r === 'failed')).toBe(true);
      // A new helper answers (a garbage token is a GSS-API failure, not a dead helper).
      const next = await restarting.get();
      expect(next).not.toBe(helper);
      await expect(next.context().step(Buffer.from('not a token'))).rejects.not.toThrow(/exited|EPIPE/);
    } finally {
      await restarting.close();
    }
    await expect.poll(gssHelpers).toEqual(before);
  });

  it('our SOCKS server\'s helper killed mid-exchange: those clients are closed, the server carries on with a new helper, none leaks', async () => {
    const before = gssHelpers();
    const server = await startServer(serviceKeytab, ['clear', 'integrity', 'confidentiality']);
    const route = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      routes: { r: [{ type: 'socks5', host: 'localhost', port: server.address.port, auth: 'gssapi', keytab: aliceKeytab }] } as never,
    });
    try {
      const [pid] = gssHelpers().filter((p) => !before.includes(p));
      expect(pid).toBeDefined();
      const clients = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const c = await RawClient.connect(server.address.port);
          c.send(Buffer.from([5, 1, 1]));
          expect([...(await c.read(2))]).toEqual([5, 1]);
          return c;
        }),
      );
      // Tokens on their way while the helper dies.
      for (const c of clients) c.send(encodeGssMessage(0x01, Buffer.from('a token the dead helper never sees')));
      process.kill(pid!, 'SIGKILL');
      for (const c of clients) {
        const rest = [...(await c.readToEnd())];
        expect(rest.length === 0 || (rest[0] === 1 && rest[1] === 0xff)).toBe(true);
      }
      await server.whenIdle();
      // A real client through the bridge gets a new helper.
      const session = await openSession(route.url);
      const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route: 'r' });
      const info = await socket.opened;
      expect(await roundTrip(info, 'after the helper died')).toBe('after the helper died');
      session.close();
    } finally {
      await route.close();
      await server.close();
    }
    await expect.poll(gssHelpers).toEqual(before);
  });

  it('wsocks socks --gssapi-keytab serves GSS-API; a keytab without the service\'s key stops it with the reason', async () => {
    const cli = runCli(['socks', '--listen', '127.0.0.1:0', '--gssapi-keytab', serviceKeytab, '--gssapi-service', 'rcmd/localhost', '--gssapi-protection', 'clear,integrity'], realm.env);
    const banner = await cli.banner;
    expect(banner).toContain('SOCKS5 GSS-API');
    const port = Number(/:(\d+) \(/.exec(banner)![1]);
    const c = await RawClient.connect(port);
    c.send(Buffer.from([5, 2, 0, 1]));
    expect([...(await c.read(2))]).toEqual([5, 1]);
    c.destroy();
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
    const bad = runCli(['socks', '--listen', '127.0.0.1:0', '--gssapi-keytab', bobKeytab, '--gssapi-service', 'rcmd/localhost'], realm.env);
    expect(await bad.exit).toBe(1);
    expect(bad.stderr()).toContain('ERR_GSSAPI_FAILED');
    const usage = runCli(['socks', '--gssapi-service', 'rcmd'], realm.env);
    expect(await usage.exit).toBe(2);
  });
});

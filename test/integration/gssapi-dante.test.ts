/**
 * GSS-API (RFC 1961) against a third-party implementation: Dante 1.4.2, built with GSS-API from Debian's source
 * package (scripts/build-dante-gssapi.js: Debian 12's own danted is built without it). Built on first use and cached,
 * so the first run of this file takes minutes (beforeAll allows 15); if the build fails, every test fails with the
 * reason. A Kerberos realm on loopback as in gssapi.test.ts.
 *
 * - Dante's sockd as the server, the bridge's GSS-API hop as the client, at each `gssapi.enctype` Dante has (it
 *   refuses `permessage` in its config parser: "gssapi per-message encryption not supported"), in both styles; bytes
 *   checked by sha256 through the tunnel. A ticket Dante cannot decrypt and a missing ticket are refused.
 * - Dante's client library (libdsocksd, LD_PRELOADed into curl as `socksify` does) as the client, OUR SOCKS server as
 *   the server.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { openRefusal, openSession } from '../helpers/bridge.ts';
import { startEcho, startHttp, type Running } from '../helpers/net.ts';
import { startRealm, type Realm } from '../helpers/krb5-realm.ts';
import { startDanteGssapi, type DanteEnctype, type Peer } from '../helpers/peers.ts';
import { ensureDanteGssapi } from '../../scripts/build-dante-gssapi.js';
import { sha256 } from '../helpers/scripted-target.ts';


describe('GSS-API with Dante built with GSS-API', () => {
  let realm: Realm;
  let aliceKeytab: string;
  let serviceKeytab: string;
  let otherKeytab: string;
  let aliceCache: string;
  let echo: Running;
  let http: Running;
  const dantes = new Map<string, Peer & { stderr: () => string }>();
  let bridge: BridgeServer;
  let ours: SocksServer;
  const oursLog: SocksLogEntry[] = [];
  const savedEnv = { ...process.env };
  const body = `through dante's client ${process.pid}`;

  beforeAll(async () => {
    ensureDanteGssapi(); // builds Dante on the first run (minutes); throws with the reason when it cannot
    realm = await startRealm();
    aliceKeytab = realm.addPrincipal('alice');
    serviceKeytab = realm.addPrincipal('rcmd/localhost');
    otherKeytab = realm.addPrincipal('rcmd/otherhost');
    aliceCache = `FILE:${join(realm.dir, 'alice.cc')}`;
    realm.kinit('alice', aliceKeytab, aliceCache);
    Object.assign(process.env, realm.env);
    echo = await startEcho();
    http = await startHttp(body);
    const dante = async (name: string, enctype: DanteEnctype, extra: { keytab?: string; necgssapi?: boolean } = {}) =>
      dantes.set(name, await startDanteGssapi({ keytab: extra.keytab ?? serviceKeytab, service: 'rcmd/localhost', enctype, env: realm.env, necgssapi: extra.necgssapi }));
    await dante('any', 'any');
    await dante('clear', 'clear');
    await dante('integrity', 'integrity');
    await dante('confidentiality', 'confidentiality');
    await dante('nec', 'any', { necgssapi: true });
    await dante('wrongKey', 'any', { keytab: otherKeytab });
    const hop = (name: string, extra: Record<string, unknown>) => [
      { type: 'socks5', host: 'localhost', port: dantes.get(name)!.port, auth: 'gssapi', keytab: aliceKeytab, ...extra },
    ];
    bridge = await BridgeServer.start({
      listen: '127.0.0.1:0',
      policy: { allow: [{ cidr: '127.0.0.0/8' }] },
      routes: {
        anyConfidentiality: hop('any', {}),
        anyIntegrity: hop('any', { protection: 'integrity' }),
        clear: hop('clear', { protection: 'clear' }),
        integrity: hop('integrity', { protection: 'integrity' }),
        confidentiality: hop('confidentiality', {}),
        nec: hop('nec', { nec: true }),
        cache: hop('confidentiality', { keytab: undefined, ccache: aliceCache }),
        downgrade: hop('integrity', {}),
        wrongKey: hop('wrongKey', {}),
        noTicket: hop('any', { keytab: undefined, ccache: `FILE:${join(realm.dir, 'empty.cc')}` }),
      } as never,
    });
    ours = await SocksServer.start(
      { port: 0, gssapi: { keytab: serviceKeytab, service: 'rcmd', protection: ['clear', 'integrity', 'confidentiality'] } },
      (e) => oursLog.push(e),
    );
  }, 900_000);

  afterAll(async () => {
    if (process.env.DEBUG_DANTE) for (const [n, d] of dantes) console.log(n, d.stderr());
    await bridge?.close();
    await ours?.close();
    for (const d of dantes.values()) await d.stop();
    await echo?.close();
    await http?.close();
    await realm?.stop();
    for (const key of ['KRB5_CONFIG', 'KRB5_KDC_PROFILE']) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  async function through(route: string, data: Buffer): Promise<string> {
    const session = await openSession(bridge.url);
    try {
      const socket = session.open({ host: '127.0.0.1', port: echo.port }, { route });
      const info = await socket.opened;
      const reader = info.readable.getReader();
      const writer = info.writable.getWriter();
      const written = writer.write(data);
      const parts: Uint8Array[] = [];
      let got = 0;
      while (got < data.length) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
      }
      await written;
      return sha256(Buffer.concat(parts));
    } finally {
      session.close();
    }
  }

  const failure = (route: string) => openRefusal(bridge.url, { host: '127.0.0.1', port: echo.port }, route);

  it.each([
    ['anyConfidentiality', 'Dante default (integrity or confidentiality), we propose confidentiality'],
    ['anyIntegrity', 'Dante default, we propose integrity'],
    ['confidentiality', 'gssapi.enctype: confidentiality'],
    ['integrity', 'gssapi.enctype: integrity'],
    ['clear', 'gssapi.enctype: clear'],
    ['nec', 'clientcompatibility: necgssapi (level in clear)'],
    ['cache', 'from a credential cache instead of a keytab'],
  ])('the bridge through Dante, route %s (%s): 300 KiB arrive intact (sha256)', async (route) => {
    const data = randomBytes(300 * 1024);
    expect(await through(route, data)).toBe(sha256(data));
  });

  it('a level below ours is not accepted silently: confidentiality proposed, Dante grants only integrity', async () => {
    // Dante closes the connection (no abort message); the bridge reports the refusal.
    const err = await failure('downgrade');
    expect(err.code).toBe('ERR_GSSAPI_REJECTED');
    expect(err.message).toContain('protection level');
    expect(err.hop).toBe(1);
  });

  it('a ticket Dante cannot accept (its keytab holds another host\'s key): ERR_GSSAPI_REJECTED', async () => {
    const err = await failure('wrongKey');
    expect(err.code).toBe('ERR_GSSAPI_REJECTED');
    expect(err.message).toContain('refused our ticket');
    expect(err.hop).toBe(1);
  });

  it('no ticket at all: ERR_GSSAPI_FAILED before anything reaches Dante\'s accept', async () => {
    const err = await failure('noTicket');
    expect(err.code).toBe('ERR_GSSAPI_FAILED');
    expect(err.hop).toBe(1);
  });

  /** Runs curl with Dante's client library preloaded, through `port`, with Dante's route options `options`. */
  async function socksifiedCurl(port: number, options: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const { libdsocks } = ensureDanteGssapi();
    const dir = mkdtempSync(join(tmpdir(), 'wsocks-dante-client-'));
    try {
      const conf = join(dir, 'socks.conf');
      // Dante's client asks for a ticket for "servicename@proxy host" (rcmd@127.0.0.1, which Kerberos canonicalizes
      // to rcmd/localhost). Without SOCKS_AUTOADD_LANROUTES=no it connects directly to addresses of local networks.
      writeFileSync(
        conf,
        `logoutput: stderr
${process.env.DEBUG_DANTE ? 'debug: 1\n' : ''}route {
  from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1 port = ${port}
  proxyprotocol: socks_v5
  method: gssapi
  gssapi.servicename: rcmd
  ${options}
}
`,
      );
      const env = { ...process.env, ...realm.env, LD_PRELOAD: libdsocks, SOCKS_CONF: conf, KRB5CCNAME: aliceCache, SOCKS_AUTOADD_LANROUTES: 'no' };
      return await new Promise((resolve) => {
        execFile('curl', ['-sS', '--max-time', '60', '--noproxy', '*', `http://127.0.0.1:${http.port}/`], { env }, (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  // Each of OUR servers grants one level only, so a pass proves the level Dante's client negotiated.
  it.each([
    ['clear', 'gssapi.enctype: clear'],
    ['integrity', 'gssapi.enctype: integrity'],
    ['confidentiality', 'gssapi.enctype: confidentiality'],
    ['confidentiality', 'clientcompatibility: necgssapi'],
  ] as const)('Dante\'s client library (LD_PRELOAD into curl, as socksify) gets through OUR server at %s (%s)', async (level, options) => {
    const log: SocksLogEntry[] = [];
    const server = await SocksServer.start({ port: 0, gssapi: { keytab: serviceKeytab, service: 'rcmd', protection: [level] } }, (e) => log.push(e));
    try {
      const res = await socksifiedCurl(server.address.port, options);
      expect(res.stdout, `curl exited ${res.code}: ${res.stderr}`).toBe(body);
      await server.whenIdle();
      expect(log).toContainEqual(expect.objectContaining({ event: 'request', user: 'alice@WSOCKS.TEST' }));
    } finally {
      await server.close();
    }
  });

  it('Dante\'s client without a ticket is refused by OUR server before any request', async () => {
    const before = oursLog.length;
    const { libdsocks } = ensureDanteGssapi();
    expect(libdsocks).toContain('libdsocksd');
    const saved = aliceCache;
    aliceCache = `FILE:${join(realm.dir, 'nobody.cc')}`;
    try {
      const res = await socksifiedCurl(ours.address.port, '');
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/gss_init_sec_context|credentials/i);
    } finally {
      aliceCache = saved;
    }
    await ours.whenIdle();
    expect(oursLog.slice(before).filter((e) => e.event === 'request')).toEqual([]);
  });
});

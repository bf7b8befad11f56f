import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { ConfigError } from '../../server/config-error.ts';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { openSession, roundTrip } from '../helpers/bridge.ts';
import { startEcho, type Running } from '../helpers/net.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';

const SECRET = 'an-hmac-secret-of-at-least-32-characters!';
const OLD_SECRET = 'the-previous-hmac-secret-still-accepted-during-rotation';

describe('signed, scoped, expiring tokens', () => {
  let echo: Running;
  let other: Running;
  let bridge: BridgeServer;
  let ed: { publicKey: KeyObject; privateKey: KeyObject };
  const logs: string[] = [];
  const minted: string[] = [];

  const now = () => Math.floor(Date.now() / 1000);

  /** Mints an HS256 (or EdDSA) token; every token minted is checked against the logs at the end. */
  async function mint(claims: JWTPayload, o: { kid?: string; key?: 'hmac' | 'old' | 'ed'; exp?: number; iss?: string; aud?: string } = {}) {
    const key = o.key ?? 'hmac';
    const alg = key === 'ed' ? 'EdDSA' : 'HS256';
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg, kid: o.kid ?? (key === 'ed' ? 'ed-1' : key === 'old' ? 'hs-0' : 'hs-1') })
      .setIssuedAt()
      .setSubject('user-42')
      .setIssuer(o.iss ?? 'https://app.example')
      .setAudience(o.aud ?? 'wsocks')
      .setExpirationTime(o.exp ?? now() + 600);
    const token = await jwt.sign(key === 'ed' ? ed.privateKey : new TextEncoder().encode(key === 'old' ? OLD_SECRET : SECRET));
    minted.push(token);
    return token;
  }

  const open = (token: string, headers = false) =>
    rawSession(bridge.url, headers ? { headers: { authorization: `Bearer ${token}` } } : { protocols: ['wsocks.v1', `wsocks.token.${token}`] });

  const refusedWith = async (token: string) => {
    const s = await open(token);
    return (await s.closed);
  };

  let nextId = 1;
  async function openStream(s: RawSession, fields: Record<string, unknown>) {
    const id = nextId++;
    s.send({ type: 'open', id, window: 65536, ...fields });
    return s.next((m) => m.id === id && (m.type === 'opened' || m.type === 'error'));
  }

  beforeAll(async () => {
    echo = await startEcho();
    other = await startEcho();
    ed = generateKeyPairSync('ed25519');
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        tokens: ['a-static-token'],
        signedTokens: {
          keys: [
            { kid: 'hs-1', alg: 'HS256', secret: SECRET },
            { kid: 'hs-0', alg: 'HS256', secret: OLD_SECRET },
            { kid: 'ed-1', alg: 'EdDSA', publicKey: ed.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
          ],
          issuer: 'https://app.example',
          audience: 'wsocks',
          clockToleranceSec: 1,
        },
        // The bridge reaches the echo server's port only; the other echo server is loopback, denied by default.
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: String(echo.port) }] },
        clientChains: true,
        routes: { alpha: [{ type: 'socks5', host: '127.0.0.1', port: 9 }], beta: [{ type: 'socks5', host: '127.0.0.1', port: 9 }] },
        limits: { streamsPerSession: 3 },
      },
      { log: (line) => logs.push(line) },
    );
  });

  afterAll(async () => {
    await bridge.close();
    await echo.close();
    await other.close();
    // Never a token in the logs, not even a refused one.
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) for (const t of [...minted, 'a-static-token']) expect(line).not.toContain(t);
  });

  it('a signed token travels as a subprotocol (base64url and dots are token characters) and opens a session', async () => {
    const token = await mint({ wsocks: { targets: [{ cidr: '127.0.0.1/32', ports: String(echo.port) }] } });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const session = await openSession(bridge.url, { token });
    const socket = session.open({ host: '127.0.0.1', port: echo.port });
    expect(await roundTrip(await socket.opened, 'scoped hello')).toBe('scoped hello');
    socket.close();
    await socket.closed;
    session.close();
    await session.closed;
  });

  it('Ed25519 keys verify too, with the token as a Bearer header; the static token still works', async () => {
    const s = await open(await mint({}, { key: 'ed' }), true);
    expect((await openStream(s, { host: '127.0.0.1', port: echo.port })).type).toBe('opened');
    s.ws.close();
    const st = await open('a-static-token');
    expect((await openStream(st, { host: '127.0.0.1', port: echo.port })).type).toBe('opened');
    st.ws.close();
  });

  it('rotation: a token signed with the previous key (its own kid) is accepted', async () => {
    const s = await open(await mint({}, { key: 'old' }));
    expect(s.messages[0]!.type).toBe('hello');
    s.ws.close();
  });

  it('refuses expired, not-yet-valid, forged, unknown-key, wrong-algorithm, unsigned and wrong iss/aud tokens with 4401', async () => {
    const cases: Array<[string, string]> = [
      [await mint({}, { exp: now() - 60 }), 'expired'],
      [await mint({ nbf: now() + 600 }), 'nbf'],
      [await mint({}, { iss: 'https://evil.example' }), 'iss'],
      [await mint({}, { aud: 'someone-else' }), 'aud'],
      [await mint({}, { kid: 'hs-9' }), 'unknown key id'],
      // Signed with the HMAC secret but naming the Ed25519 key: the algorithm is pinned per key.
      [await mint({}, { kid: 'ed-1' }), 'algorithm not allowed'],
      [await mint({}, { kid: 'hs-0' }), 'bad signature'],
      [new UnsecuredJWT({ exp: now() + 600 }).encode(), 'unknown key id'],
      [(await mint({})).slice(0, -4) + 'AAAA', 'bad signature'],
      [await mint({ wsocks: { maxStreams: -1 } }), 'bad wsocks claim'],
      [await mint({ wsocks: { admin: true } }), 'bad wsocks claim'],
    ];
    for (const [token, why] of cases) {
      const { code, reason } = await refusedWith(token);
      expect(code, why).toBe(4401);
      expect(reason, why).toMatch(/^ERR_UNAUTHORIZED /);
      expect(reason, why).toContain(why);
    }
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'hs-1' }).setIssuer('https://app.example').setAudience('wsocks').sign(new TextEncoder().encode(SECRET));
    minted.push(noExp);
    expect(await refusedWith(noExp)).toEqual({ code: 4401, reason: expect.stringContaining('exp') });
  });

  it('closes the session with 4401 when its token expires', async () => {
    const s = await open(await mint({}, { exp: now() + 3 }));
    expect(s.messages[0]!.type).toBe('hello');
    expect(await s.closed).toEqual({ code: 4401, reason: 'ERR_UNAUTHORIZED the token expired' });
  });

  it('claims narrow routes, via, direct opens, targets and streams (ERR_TOKEN_SCOPE); hello shows the narrowed offer', async () => {
    const s = await open(await mint({ wsocks: { routes: ['alpha'], via: false, maxStreams: 1, targets: [{ host: '*.example.com', ports: '443' }, { cidr: '127.0.0.1/32', ports: String(echo.port) }] } }));
    expect(s.messages[0]).toMatchObject({ type: 'hello', routes: ['alpha'], clientChains: false, limits: { maxStreams: 1 } });
    const scope = async (fields: Record<string, unknown>) => (await openStream(s, fields)) as { type: string; code?: string; message?: string };
    expect(await scope({ route: 'beta', host: 'www.example.com', port: 443 })).toMatchObject({ type: 'error', code: 'ERR_TOKEN_SCOPE' });
    expect(await scope({ via: [{ type: 'socks5', host: '127.0.0.1', port: 9 }], host: 'www.example.com', port: 443 })).toMatchObject({ code: 'ERR_TOKEN_SCOPE' });
    expect(await scope({ host: '127.0.0.1', port: other.port })).toMatchObject({ code: 'ERR_TOKEN_SCOPE' });
    expect(await scope({ host: 'www.example.com', port: 80 })).toMatchObject({ code: 'ERR_TOKEN_SCOPE' });
    // Odd spellings of an address are judged as the address they mean.
    expect(await scope({ host: '0x7f.1', port: other.port })).toMatchObject({ code: 'ERR_TOKEN_SCOPE' });
    expect(await scope({ host: '2130706433', port: echo.port })).toMatchObject({ type: 'opened' });
    expect(await scope({ host: '127.0.0.1', port: echo.port })).toMatchObject({ code: 'ERR_TOKEN_SCOPE', message: expect.stringContaining('at most 1 streams') });
    s.ws.close();

    // A client-described chain's first hop is dialed by the bridge: it must be among the targets too.
    const v = await open(await mint({ wsocks: { targets: [{ host: 'www.example.com', ports: '443' }] } }));
    expect(await openStream(v, { via: [{ type: 'socks5', host: '127.0.0.1', port: echo.port }], host: 'www.example.com', port: 443 })).toMatchObject({
      code: 'ERR_TOKEN_SCOPE',
      message: expect.stringContaining('via hop 1'),
    });
    v.ws.close();

    const d = await open(await mint({ wsocks: { direct: false } }));
    expect(await openStream(d, { host: '127.0.0.1', port: echo.port })).toMatchObject({ code: 'ERR_TOKEN_SCOPE' });
    d.ws.close();
  });

  it('claims never widen the bridge: a claimed private target, unknown route or larger limit changes nothing', async () => {
    const s = await open(await mint({ wsocks: { targets: [{ cidr: '127.0.0.0/8' }, { host: '*' }], routes: ['alpha', 'gamma'], maxStreams: 1000 } }));
    expect(s.messages[0]).toMatchObject({ type: 'hello', routes: ['alpha'], limits: { maxStreams: 3 } });
    expect(await openStream(s, { host: '127.0.0.1', port: other.port })).toMatchObject({ type: 'error', code: 'ERR_POLICY_DENIED' });
    expect(await openStream(s, { host: 'localhost', port: other.port })).toMatchObject({ type: 'error' });
    expect(await openStream(s, { route: 'gamma', host: 'www.example.com', port: 443 })).toMatchObject({ code: 'ERR_UNKNOWN_ROUTE' });
    s.ws.close();
  });

  it('a byte quota closes the session with 4402 ERR_TOKEN_QUOTA before it is exceeded', async () => {
    const s = await open(await mint({ wsocks: { maxBytes: 10 } }));
    const opened = await openStream(s, { host: '127.0.0.1', port: echo.port });
    expect(opened.type).toBe('opened');
    const id = opened.id as number;
    s.ws.send(encodeDataFrame(id, Buffer.from('12345')));
    // 5 bytes out, 5 back: exactly the quota.
    const echoed = () => s.frames.reduce((n, f) => n + f.length - 4, 0);
    while (echoed() < 5) await new Promise((resolve) => s.ws.once('message', resolve));
    s.ws.send(encodeDataFrame(id, Buffer.from('6')));
    expect(await s.closed).toEqual({ code: 4402, reason: 'ERR_TOKEN_QUOTA the token allows 10 payload bytes' });
  });

  it('refuses a config whose key is wrong, with the field named', async () => {
    await expect(
      BridgeServer.start({ listen: '127.0.0.1:0', signedTokens: { keys: [{ kid: 'a', alg: 'EdDSA', publicKey: 'not a key' }] } }),
    ).rejects.toThrow(ConfigError);
    await expect(BridgeServer.start({ listen: '127.0.0.1:0', signedTokens: { keys: [{ kid: 'a', alg: 'HS256', secret: 'short' }] } })).rejects.toThrow(
      /signedTokens\.keys\.0\.secret/,
    );
    await expect(
      BridgeServer.start({ listen: '127.0.0.1:0', signedTokens: { keys: [{ kid: 'a', alg: 'none' as 'HS256', secret: SECRET }] } }),
    ).rejects.toThrow(ConfigError);
  });
});

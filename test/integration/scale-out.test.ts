/**
 * Scale-out on an existing engine: two `wsocks bridge` processes behind HAProxy (deploy/haproxy.cfg: send-proxy-v2,
 * leastconn, /readyz health checks). Sessions spread over both; one signed token works on either; the real client
 * address reaches the per-client limit and the logs; one instance drains on SIGTERM while the other keeps serving.
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeDataFrame } from '../../shared/protocol/frame.ts';
import { startEcho, type Running } from '../helpers/net.ts';
import type { Peer } from '../helpers/peers.ts';
import { startHaproxy } from '../helpers/proxies.ts';

const BIN = join(import.meta.dirname, '../../bin/wsocks.js');

interface Instance {
  name: 'a' | 'b';
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exit: Promise<number | null>;
}

async function startInstance(name: 'a' | 'b', configPath: string): Promise<Instance> {
  const child = spawn(process.execPath, [BIN, 'bridge', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exit.then((code) => reject(new Error(`bridge ${name} exited with ${code}: ${err}`)));
  });
  return { name, child, port, stderr: () => err, exit };
}

type Attempt = { hello: Record<string, unknown>; ws: WebSocket; instance: string } | { code: number; reason: string };

/** A session through HAProxy from `from` with `token`; which instance answered is told by the route it offers. */
function session(port: number, from: string, token: string): Promise<Attempt> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['wsocks.v1', `wsocks.token.${token}`], { localAddress: from });
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('message', (d) => {
      const hello = JSON.parse(String(d)) as { routes: string[] };
      resolve({ hello, ws, instance: hello.routes[0]! });
    });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

describe('two bridge processes behind HAProxy', () => {
  let echo: Running;
  let dir: string;
  let a: Instance;
  let b: Instance;
  let haproxy: Peer;
  let token: string;
  const open: WebSocket[] = [];
  const hold = (r: Attempt) => {
    if ('ws' in r) open.push(r.ws);
    return r;
  };

  beforeAll(async () => {
    echo = await startEcho();
    dir = mkdtempSync(join(tmpdir(), 'wsocks-scale-'));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    // Each instance offers one (unused) route named after itself, so that `hello` says which one answered.
    for (const name of ['a', 'b'] as const) {
      const config = {
        listen: '127.0.0.1:0',
        trustedProxies: ['127.0.0.1/32'],
        signedTokens: { keys: [{ kid: 'k1', alg: 'EdDSA', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }], audience: 'wsocks' },
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: String(echo.port) }] },
        routes: { [name]: [{ type: 'socks5', host: '127.0.0.1', port: 9 }] },
        limits: { sessionsPerClient: 1 },
      };
      writeFileSync(join(dir, `${name}.json`), JSON.stringify(config));
    }
    [a, b] = await Promise.all([startInstance('a', join(dir, 'a.json')), startInstance('b', join(dir, 'b.json'))]);
    haproxy = await startHaproxy([a, b]);
    // Minted once, by "the web app's backend"; no instance knows of it in advance.
    token = await new SignJWT({ wsocks: { maxStreams: 4 } })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setAudience('wsocks')
      .setExpirationTime('10m')
      .sign(privateKey);
  }, 60_000);

  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await haproxy?.stop();
    for (const i of [a, b]) {
      if (i && i.child.exitCode === null && i.child.signalCode === null) {
        i.child.kill('SIGKILL');
        await i.exit;
      }
    }
    await echo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spreads sessions over both instances; one token works on either; the client address reaches limits and logs', async () => {
    // leastconn: with sessions held open, successive sessions alternate between the instances.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = hold(await session(haproxy.port, `127.0.0.${10 + i}`, token));
      expect(r, JSON.stringify(r)).toHaveProperty('hello');
      seen.add((r as { instance: string }).instance);
    }
    expect([...seen].sort()).toEqual(['a', 'b']);
    // One session per client address on each instance: a client with one on each is refused on either.
    const first = hold(await session(haproxy.port, '127.0.0.20', token));
    const second = hold(await session(haproxy.port, '127.0.0.20', token));
    expect([first, second].map((r) => ('instance' in r ? r.instance : r.code)).sort()).toEqual(['a', 'b']);
    const third = await session(haproxy.port, '127.0.0.20', token);
    expect(third).toMatchObject({ code: 4429, reason: expect.stringMatching(/^ERR_TOO_MANY_SESSIONS/) });
    expect(a.stderr() + b.stderr()).toMatch(/127\.0\.0\.20.*ERR_TOO_MANY_SESSIONS/);
  });

  it('drains one instance on SIGTERM: its open stream finishes, new sessions go to the other, it exits 0', async () => {
    await Promise.all(open.splice(0).map((w) => (w.close(), once(w, 'close'))));
    // A session on instance a with an open echo stream.
    let onA: (Attempt & { ws: WebSocket }) | undefined;
    for (let i = 0; i < 10 && !onA; i++) {
      const r = await session(haproxy.port, `127.0.0.${30 + i}`, token);
      if ('ws' in r && r.instance === 'a') onA = r;
      else if ('ws' in r) {
        r.ws.close();
        await once(r.ws, 'close');
      }
    }
    expect(onA).toBeDefined();
    const ws = onA!.ws;
    const got: Buffer[] = [];
    const control: Array<Record<string, unknown>> = [];
    ws.on('message', (d: Buffer, bin) => (bin ? got.push(d) : control.push(JSON.parse(String(d)))));
    ws.send(JSON.stringify({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 65536 }));
    while (!control.some((m) => m.type === 'opened')) await once(ws, 'message');

    a.child.kill('SIGTERM');
    // New sessions are served: by b, or refused by a draining with 1001 (a client reconnects) until HAProxy's
    // /readyz check takes a out; never anything else.
    let servedByB = 0;
    for (let i = 0; servedByB < 3; i++) {
      const r = await session(haproxy.port, `127.0.0.${50 + (i % 150)}`, token);
      if ('ws' in r) {
        expect(r.instance).toBe('b');
        servedByB++;
        r.ws.close();
        await once(r.ws, 'close');
      } else expect(r).toMatchObject({ code: 1001, reason: expect.stringMatching(/^ERR_SHUTTING_DOWN/) });
    }
    // The stream on the draining instance still carries data.
    ws.send(encodeDataFrame(1, Buffer.from('still here')));
    while (Buffer.concat(got.map((f) => f.subarray(4))).toString() !== 'still here') await once(ws, 'message');
    // Its last stream ends: a closes the session with 1001 and exits 0.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'close', id: 1 }));
    expect(await closed).toBe(1001);
    expect(await a.exit).toBe(0);
    // b keeps serving.
    const after = await session(haproxy.port, '127.0.0.99', token);
    expect(after).toMatchObject({ instance: 'b' });
    (after as { ws: WebSocket }).ws.close();
  });
});

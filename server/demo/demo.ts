/**
 * The demo: everything on loopback behind one URL. Two SOCKS servers of ours (the second wants a password, so a
 * two-hop chain shows RFC 1929 on hop 2), demo targets, and the bridge, which also serves the web UI (through vite
 * in development, or the built bundle) so that the page and the WebSocket share an origin.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { BridgeServer } from '../bridge/bridge-server.ts';
import { freePort } from '../net/listen.ts';
import { SocksServer } from '../socks/server.ts';
import { connectDemoPeer, startDemoTargets, type DemoTargets } from './targets.ts';
import { startKerberosHop, type KerberosHop } from './kerberos-hop.ts';

export const DEMO_USER = { username: 'demo', password: 'demo-password' };

export interface DemoOptions {
  host?: string;
  port?: number;
  /** Serve dist/demo (after `npm run build:demo`) instead of running vite. */
  static?: boolean;
}

export interface Demo {
  url: string;
  bridge: BridgeServer;
  socks: [SocksServer, SocksServer];
  targets: DemoTargets;
  /** The GSS-API hop (route `kerberos`), or why there is none. */
  kerberos: { server: SocksServer } | { unavailable: string };
  close(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '../..');

/** What the page needs to know: targets, routes and presets. Served as /demo/config.json. */
function demoConfig(targets: DemoTargets, socksA: number, socksB: number, kerberos: number | undefined) {
  return {
    targets: [
      { name: 'echo', host: '127.0.0.1', port: targets.echo, mode: 'line', about: 'TCP echo: every byte comes back' },
      { name: 'chat', host: 'localhost', port: targets.chat, mode: 'line', about: 'line-based chat with a banner' },
      { name: 'http', host: '127.0.0.1', port: targets.http, mode: 'line', about: 'tiny HTTP server: type GET / HTTP/1.0 and an empty line' },
      { name: 'firehose', host: '127.0.0.1', port: targets.firehose, mode: 'raw', about: '100,000 lines as fast as flow control allows' },
      { name: 'refused port', host: '127.0.0.1', port: targets.refused, mode: 'line', about: 'nothing listens here: see the reply code' },
    ],
    routes: [
      { name: '', label: 'direct (no proxy)' },
      { name: 'one-hop', label: 'one hop: SOCKS5 (wsocks, no auth)' },
      { name: 'two-hop', label: 'two hops: SOCKS5 -> SOCKS5 with username/password' },
      { name: 'socks4a', label: 'one hop: SOCKS4a (wsocks)' },
      ...(kerberos === undefined ? [] : [{ name: 'kerberos', label: 'one hop: SOCKS5 with GSS-API (Kerberos, a test realm on loopback)' }]),
    ],
    udpTargets: [
      { name: 'UDP echo', host: '127.0.0.1', port: targets.udpEcho, about: 'every datagram comes back' },
      { name: 'DNS', host: '127.0.0.1', port: targets.dns, about: 'A records for names under demo.test' },
    ],
    proxies: [
      // methods: the SOCKS5 methods the server accepts (the byte lab reads what it sends as that server would).
      { name: 'SOCKS server A (no auth)', host: '127.0.0.1', port: socksA, methods: [0x00] },
      { name: 'SOCKS server B (user demo, password demo-password)', host: '127.0.0.1', port: socksB, methods: [0x02] },
      ...(kerberos === undefined ? [] : [{ name: 'SOCKS server K (GSS-API, test realm WSOCKS.TEST)', host: '127.0.0.1', port: kerberos, methods: [0x01] }]),
    ],
  };
}

/** Starts every part; if one fails (the port is taken, say), the parts already started are closed again. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const started: Array<() => Promise<void>> = [];
  try {
    return await startDemoParts(options, started);
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch(() => {});
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      const where = `${options.host ?? '127.0.0.1'}:${options.port ?? 5173}`;
      throw Object.assign(new Error(`${where} is taken (EADDRINUSE): stop what uses it, or choose another address with --listen`), { code: e.code });
    }
    throw err;
  }
}

async function startDemoParts(options: DemoOptions, started: Array<() => Promise<void>>): Promise<Demo> {
  const targets = await startDemoTargets();
  started.push(() => targets.close());
  const socksA = await SocksServer.start({ port: 0 });
  started.push(() => socksA.close());
  const socksB = await SocksServer.start({ port: 0, users: [DEMO_USER] });
  started.push(() => socksB.close());
  const a = socksA.address.port;
  const b = socksB.address.port;
  // The GSS-API hop is there when the machine can make a Kerberos realm; the rest of the demo does not need it.
  let kerberos: KerberosHop | undefined;
  let kerberosMissing = '';
  try {
    kerberos = await startKerberosHop();
    started.push(() => kerberos!.close());
  } catch (err) {
    kerberosMissing = (err as Error).message;
  }
  const k = kerberos?.server.address.port;
  const config = demoConfig(targets, a, b, k);
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  let closeVite = async () => {};
  if (options.static) {
    handler = staticHandler(join(ROOT, 'dist/demo'));
  } else {
    const { createServer } = await import('vite');
    // The bridge owns WebSocket upgrades on its port, so vite's live-reload socket gets a port of its own.
    const hmrPort = await freePort(options.host ?? '127.0.0.1');
    const vite = await createServer({
      configFile: join(ROOT, 'vite.config.ts'),
      server: { middlewareMode: true, ws: { host: options.host ?? '127.0.0.1', port: hmrPort } },
      appType: 'spa',
      logLevel: 'warn',
    });
    handler = (req, res) => vite.middlewares(req, res);
    closeVite = () => vite.close();
    started.push(closeVite);
  }
  let bridge!: BridgeServer;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/demo/config.json') return json(res, config);
    if (req.url === '/demo/stats.json') return json(res, { bridge: bridge.stats(), socks: [socksA.stats(), socksB.stats()] });
    if (req.url?.startsWith('/demo/peer?') && req.method === 'POST') {
      const q = new URL(req.url, 'http://x').searchParams;
      connectDemoPeer(q.get('host') ?? '', Number(q.get('port'))).then(
        () => json(res, { ok: true }),
        (err: Error) => json(res, { ok: false, error: err.message }),
      );
      return;
    }
    handler(req, res);
  };
  bridge = await BridgeServer.start(
    {
      listen: `${options.host ?? '127.0.0.1'}:${options.port ?? 5173}`,
      // Demo only: the targets and proxies live on loopback, which a real bridge denies by default.
      policy: { allow: [{ cidr: '127.0.0.0/8' }, { cidr: '::1' }] },
      clientChains: true,
      routes: {
        'one-hop': [{ type: 'socks5', host: '127.0.0.1', port: a }],
        'two-hop': [
          { type: 'socks5', host: '127.0.0.1', port: a },
          { type: 'socks5', host: '127.0.0.1', port: b, ...DEMO_USER },
        ],
        socks4a: [{ type: 'socks4a', host: '127.0.0.1', port: a }],
        ...(kerberos ? { kerberos: [{ type: 'socks5' as const, host: 'localhost', port: k!, auth: 'gssapi' as const, keytab: kerberos.keytab }] } : {}),
      },
    },
    { onRequest },
  );
  const { host, port } = bridge.address;
  return {
    url: `http://${host}:${port}/`,
    bridge,
    socks: [socksA, socksB],
    targets,
    kerberos: kerberos ? { server: kerberos.server } : { unavailable: kerberosMissing },
    close: async () => {
      await bridge.close();
      await Promise.all([socksA.close(), socksB.close(), targets.close(), closeVite(), kerberos?.close()]);
    },
  };
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function staticHandler(dir: string): (req: IncomingMessage, res: ServerResponse) => void {
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`${dir} has no index.html: run npm run build:demo first`);
  return (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(body);
      },
      () => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      },
    );
  };
}

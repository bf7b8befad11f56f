import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { WispCloseReason } from '../../shared/protocol/wisp-frame.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startEcho, startUdpEcho } from '../helpers/net.ts';

/**
 * The wisp-js client (its browser build, dist/wisp-client.js) in Debian's Chromium, on a page the bridge serves
 * itself (same origin), against the bridge's Wisp endpoints (v1 and v2): direct and through a SOCKS5 route.
 */

// The package's browser build (a classic script that defines the global `wisp_client`).
const wispClientJs = readFileSync(new URL('../../node_modules/@mercuryworkshop/wisp-js/dist/wisp-client.js', import.meta.url), 'utf8');

describe('wisp-js in Chromium', () => {
  let bridge: BridgeServer;
  let socks: SocksServer;
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let udpEcho: Awaited<ReturnType<typeof startUdpEcho>>;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;

  beforeAll(async () => {
    echo = await startEcho();
    udpEcho = await startUdpEcho();
    socks = await SocksServer.start({ port: 0 });
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        policy: { allow: [{ cidr: '127.0.0.0/8', ports: [echo.port, udpEcho.port] }] },
        routes: { ours: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
        compat: { wisp: [{ path: '/wisp/' }, { path: '/wisp-socks/', route: 'ours' }] },
      },
      {
        onRequest: (req, res) => {
          if (req.url === '/wisp-client.js') {
            res.writeHead(200, { 'content-type': 'text/javascript' });
            return void res.end(wispClientJs);
          }
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<!doctype html><script src="/wisp-client.js"></script>');
        },
      },
    );
    chrome = await launchChromium();
    page = await chrome.browser.newPage();
    page.on('pageerror', (e) => console.log('page error:', e.message));
    await page.goto(`http://127.0.0.1:${bridge.address.port}/`);
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await bridge?.close();
    await socks?.close();
    await echo?.close();
    await udpEcho?.close();
  });

  /** In the page: opens a Wisp connection, echoes `size` bytes on a stream and returns a digest, or the close reason. */
  const run = (path: string, host: string, port: number, size: number, version?: number) =>
    page.evaluate(
      async ({ url, host, port, size, version }) => {
        const w = (globalThis as unknown as { wisp_client: { client: { ClientConnection: new (u: string, o: object) => any } } }).wisp_client;
        const conn = new w.client.ClientConnection(url, version ? { wisp_version: version } : {});
        await new Promise<void>((resolve, reject) => {
          conn.onopen = resolve;
          conn.onerror = () => reject(new Error('wisp connection failed'));
        });
        const data = new Uint8Array(size);
        for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
        const result = await new Promise<{ same: boolean; reason?: number; version?: number }>((resolve) => {
          const s = conn.create_stream(host, port);
          const back = new Uint8Array(size);
          let got = 0;
          s.onmessage = (d: Uint8Array) => {
            back.set(new Uint8Array(d), got);
            got += d.length;
            if (got === size) {
              s.close(2);
              resolve({ same: back.every((b, i) => b === data[i]), version: conn.wisp_version });
            }
          };
          s.onclose = (reason: number) => resolve({ same: false, reason });
          for (let at = 0; at < size; at += 16384) s.send(data.subarray(at, at + 16384));
        });
        conn.close();
        return result;
      },
      { url: `ws://127.0.0.1:${bridge.address.port}${path}`, host, port, size, version },
    );

  it('echoes a megabyte byte-exact, direct (v1) and through a SOCKS5 route (the default, v2)', async () => {
    expect(await run('/wisp/', '127.0.0.1', echo.port, 1024 * 1024, 1)).toEqual({ same: true, version: 1 });
    expect(await run('/wisp-socks/', '127.0.0.1', echo.port, 1024 * 1024)).toEqual({ same: true, version: 2 });
  });

  it('is refused a denied target with CLOSE 0x48', async () => {
    expect(await run('/wisp/', '::ffff:127.0.0.1', 22, 10, 1)).toEqual({ same: false, reason: WispCloseReason.BLOCKED });
  });

  it('v2: a UDP stream through the SOCKS5 route echoes datagrams', async () => {
    const back = await page.evaluate(
      async ({ url, port }) => {
        const w = (globalThis as unknown as { wisp_client: { client: { ClientConnection: new (u: string) => any } } }).wisp_client;
        const conn = new w.client.ClientConnection(url);
        await new Promise<void>((resolve, reject) => {
          conn.onopen = resolve;
          conn.onerror = () => reject(new Error('wisp connection failed'));
        });
        const s = conn.create_stream('127.0.0.1', port, 'udp');
        const got: string[] = [];
        const done = new Promise<void>((resolve) => {
          s.onmessage = (d: Uint8Array) => {
            got.push(new TextDecoder().decode(d));
            if (got.length === 2) resolve();
            else s.send(new TextEncoder().encode('datagram two'));
          };
          s.onclose = (reason: number) => {
            got.push(`closed ${reason}`);
            resolve();
          };
        });
        s.send(new TextEncoder().encode('datagram one'));
        await done;
        conn.close();
        return { got, version: conn.wisp_version };
      },
      { url: `ws://127.0.0.1:${bridge.address.port}/wisp-socks/`, port: udpEcho.port },
    );
    expect(back).toEqual({ got: ['datagram one', 'datagram two'], version: 2 });
  });
});

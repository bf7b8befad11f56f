import { mkdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import type { SocksLogEntry } from '../../server/socks/connection.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startVncServer, type VncServer } from '../helpers/vnc.ts';

/**
 * noVNC (npm @novnc/novnc, its ESM core/rfb.js, unmodified) in Debian's Chromium, through the bridge's websockify
 * endpoint and a SOCKS5 hop (our SocksServer, the target's route) to a real VNC server on loopback (TigerVNC's
 * Xtigervnc, no VNC auth). The X root window is painted with xsetroot; the test reads noVNC's canvas pixels.
 */

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const NOVNC = resolve(import.meta.dirname, '../../node_modules/@novnc/novnc');
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html' };

const PAGE = `<!doctype html>
<style>body { margin: 0; background: #222; } #screen { width: 320px; height: 200px; }</style>
<div id="screen"></div>
<script type="module">import RFB from '/novnc/core/rfb.js'; globalThis.RFB = RFB;</script>`;

/** Serves the page and noVNC's files (under /novnc/), nothing outside the package. */
function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = decodeURIComponent((req.url ?? '/').split('?', 1)[0]!);
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return void res.end(PAGE);
  }
  const file = resolve(NOVNC, `.${path.replace(/^\/novnc/, '')}`);
  if (!path.startsWith('/novnc/') || !file.startsWith(NOVNC + sep)) {
    res.writeHead(404);
    return void res.end();
  }
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
}

describe('noVNC through the websockify endpoint and a SOCKS5 hop', () => {
  let vnc: VncServer;
  let socks: SocksServer;
  let bridge: BridgeServer;
  let chrome: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const socksLog: SocksLogEntry[] = [];
  const bridgeLog: string[] = [];

  beforeAll(async () => {
    vnc = await startVncServer(320, 200);
    socks = await SocksServer.start({ port: 0 }, (e) => socksLog.push(e));
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: [vnc.port] }] },
        routes: { lab: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }] },
        compat: {
          websockify: {
            path: '/websockify',
            targets: {
              'vnc-through-socks-0123456789': { host: '127.0.0.1', port: vnc.port, route: 'lab' },
              'vnc-denied-port-0123456789': { host: '127.0.0.1', port: vnc.port + 1, route: 'lab' },
            },
          },
        },
      },
      { onRequest: serve, log: (l) => bridgeLog.push(l) },
    );
    chrome = await launchChromium();
    page = await chrome.browser.newPage({ viewport: { width: 320, height: 200 } });
    page.on('pageerror', (e) => console.log('page error:', e.message));
    await page.goto(`http://127.0.0.1:${bridge.address.port}/`);
    await page.waitForFunction(() => 'RFB' in globalThis);
  }, 120_000);

  afterAll(async () => {
    await chrome?.close();
    await bridge?.close();
    await socks?.close();
    await vnc?.close();
  });

  /** In the page: noVNC connects to the websockify URL; resolves with the outcome (connect, or the disconnect). */
  const connect = (token: string, wsProtocols: string[]) =>
    page.evaluate(
      async ({ url, wsProtocols }) => {
        const RFB = (globalThis as unknown as { RFB: new (t: Element, u: string, o: object) => any }).RFB;
        const screen = document.getElementById('screen')!;
        screen.replaceChildren();
        const rfb = new RFB(screen, url, { wsProtocols });
        (globalThis as unknown as { rfb: unknown }).rfb = rfb;
        return await new Promise<string>((resolve) => {
          rfb.addEventListener('connect', () => resolve('connected'));
          rfb.addEventListener('securityfailure', (e: CustomEvent) => resolve(`securityfailure ${e.detail.status}`));
          rfb.addEventListener('disconnect', (e: CustomEvent) => resolve(`disconnected clean=${e.detail.clean}`));
        });
      },
      { url: `ws://127.0.0.1:${bridge.address.port}/websockify?token=${token}`, wsProtocols },
    );

  /** Waits until the pixel at (x, y) of noVNC's canvas is `rgb`. */
  const waitForPixel = (x: number, y: number, rgb: [number, number, number]) =>
    page.waitForFunction(
      ({ x, y, rgb }) => {
        const canvas = document.querySelector('#screen canvas') as HTMLCanvasElement | null;
        if (!canvas || canvas.width === 0) return false;
        const [r, g, b] = canvas.getContext('2d')!.getImageData(x, y, 1, 1).data;
        return r === rgb[0] && g === rgb[1] && b === rgb[2];
      },
      { x, y, rgb },
      { timeout: 30_000, polling: 100 },
    );

  const disconnect = () =>
    page.evaluate(async () => {
      const rfb = (globalThis as unknown as { rfb: { disconnect(): void; addEventListener(t: string, f: () => void): void } }).rfb;
      const gone = new Promise<void>((resolve) => rfb.addEventListener('disconnect', () => resolve()));
      rfb.disconnect();
      await gone;
    });

  it('shows the remote desktop, live, with the binary subprotocol; screenshot in test-artifacts/', async () => {
    await vnc.paint('#ff8000');
    expect(await connect('vnc-through-socks-0123456789', ['binary'])).toBe('connected');
    expect(await page.evaluate(() => (document.querySelector('#screen canvas') as HTMLCanvasElement).width)).toBe(vnc.width);
    await waitForPixel(10, 10, [0xff, 0x80, 0x00]);
    await waitForPixel(vnc.width - 1, vnc.height - 1, [0xff, 0x80, 0x00]);
    // A change on the X display reaches the canvas: the session is live, not a first frame.
    await vnc.paint('#2060c0');
    await waitForPixel(160, 100, [0x20, 0x60, 0xc0]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'novnc-through-socks.png') });
    await disconnect();
    // The connection went through the SOCKS5 hop (our server saw the CONNECT to the VNC port).
    expect(socksLog.some((e) => e.event === 'request' && e.target === `127.0.0.1:${vnc.port}`)).toBe(true);
    expect(bridgeLog.some((l) => l.includes(`connected to 127.0.0.1:${vnc.port} via route lab`))).toBe(true);
  });

  it('also works with noVNC default (no subprotocol)', async () => {
    await vnc.paint('#10a040');
    expect(await connect('vnc-through-socks-0123456789', [])).toBe('connected');
    await waitForPixel(50, 50, [0x10, 0xa0, 0x40]);
    await disconnect();
  });

  it('a target the policy denies: noVNC is disconnected, and the hop is never asked', async () => {
    const before = socksLog.length;
    expect(await connect('vnc-denied-port-0123456789', ['binary'])).toBe('disconnected clean=false');
    expect(socksLog.slice(before).filter((e) => e.event === 'request')).toEqual([]);
    expect(bridgeLog.some((l) => l.includes('ERR_POLICY_DENIED'))).toBe(true);
  });
});

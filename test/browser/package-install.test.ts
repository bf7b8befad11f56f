/**
 * The package as users get it: `npm pack` (prepack builds dist/), the tarball installed into fresh projects (npm,
 * local cache first), then used the way docs/client.md says, with the examples/ folder run as they are:
 * - a server project: `npx wsocks --version` and `wsocks bridge` with plain node (no tsx, no xterm installed);
 *   examples/node-echo.mjs through that bridge; `tsc` with `tsc --init`'s settings on examples/typed-client.ts;
 * - a Vite app (examples/web-terminal: wsocks/client + wsocks/xterm) built with vite, loaded in Chromium, echoing
 *   typed lines through the bridge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { startEcho, type Running } from '../helpers/net.ts';

const ROOT = join(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/.bin/tsc');
/** The version this checkout has installed, so that the fresh projects come from npm's cache. */
const version = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws (the test asserts on the outcome). */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: stderr + String(err) }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(p: Promise<Run>, what: string): Promise<Run> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const npmInstall = (cwd: string, specs: string[]) => ok(run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], cwd), `npm install in ${cwd}`);

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves a folder (the built Vite app) on 127.0.0.1. */
async function serveStatic(dir: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

describe('the npm package, installed from its tarball', () => {
  let dir: string;
  let tarball: string;
  let serverProject: string;
  let webProject: string;
  let echo: Running;
  let page: Server;
  let pageOrigin: string;
  /** Two bridges from the package's own CLI (plain node): for Node clients (no Origin), and for the page's origin. */
  const bridges: ChildProcess[] = [];
  let bridgeUrl: string;
  let pageBridgeUrl: string;
  let bridgeLog = '';

  async function startPackagedBridge(name: string, config: object): Promise<string> {
    await writeFile(join(serverProject, name), JSON.stringify(config));
    const bridge = spawn(process.execPath, ['node_modules/wsocks/bin/wsocks.js', 'bridge', '--config', name, '--listen', '127.0.0.1:0'], { cwd: serverProject, stdio: ['ignore', 'pipe', 'pipe'] });
    bridges.push(bridge);
    bridge.stderr!.on('data', (d) => (bridgeLog += d));
    const [line] = (await once(bridge.stdout!, 'data')) as [Buffer];
    const url = /(ws:\/\/\S+)/.exec(String(line))?.[1] ?? '';
    expect(url, `${line}\n${bridgeLog}`).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    return url;
  }
  let chrome: Awaited<ReturnType<typeof launchChromium>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-pack-'));
    const packed = await ok(run('npm', ['pack', '--json', '--pack-destination', dir], ROOT), 'npm pack');
    tarball = join(dir, (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename);
    serverProject = join(dir, 'server');
    webProject = join(dir, 'web');
    for (const [p, name] of [
      [serverProject, 'server-consumer'],
      [webProject, 'web-consumer'],
    ] as const) {
      await mkdir(p);
      await writeFile(join(p, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
      await cp(join(ROOT, 'examples'), p, { recursive: true });
    }
    await Promise.all([
      npmInstall(serverProject, [tarball]),
      npmInstall(webProject, [tarball, `vite@${version('vite')}`, `@xterm/xterm@${version('@xterm/xterm')}`]),
    ]);

    echo = await startEcho();
    page = await serveStatic(join(webProject, 'web-terminal/dist'));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    const policy = { allow: [{ cidr: '127.0.0.0/8' }] };
    bridgeUrl = await startPackagedBridge('bridge.json', { policy });
    pageBridgeUrl = await startPackagedBridge('page-bridge.json', { policy, origins: [pageOrigin] });
  }, 240_000);

  afterAll(async () => {
    await chrome?.close();
    for (const bridge of bridges) {
      if (bridge.exitCode !== null) continue;
      bridge.kill('SIGTERM');
      await once(bridge, 'exit');
    }
    page?.close();
    await echo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ships built JavaScript, types, the CLI, docs and examples; a server install pulls in no xterm and no tsx', async () => {
    const list = await ok(run('tar', ['tzf', tarball], dir), 'tar');
    const files = list.stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['bin/wsocks.js', 'dist/web/client/index.js', 'dist/web/client/index.d.ts', 'dist/web/src/terminal-addon.js', 'dist/server/cli.js', 'docs/client.md', 'examples/node-echo.mjs']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('examples/'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|scripts|web\/src\/main|\.github)|\.png$/.test(f))).toEqual([]);
    const installed = await readdir(join(serverProject, 'node_modules'));
    expect(installed).toContain('wsocks');
    expect(installed).not.toContain('@xterm');
    expect(installed).not.toContain('tsx');
    expect(installed).not.toContain('esbuild');
  });

  it('npx wsocks --version prints the version, with plain node', async () => {
    const r = await ok(run('npx', ['--no-install', 'wsocks', '--version'], serverProject), 'npx wsocks --version');
    expect(r.stdout.trim()).toBe(JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('plain node runs examples/node-echo.mjs through the packaged bridge', async () => {
    const r = await run(process.execPath, ['node-echo.mjs', bridgeUrl, `127.0.0.1:${echo.port}`], serverProject);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`opened 127.0.0.1:${echo.port}`);
    expect(r.stdout).toContain('answer: hello through wsocks');
    expect(r.code).toBe(0);
    // A bridge that is down: a coded error, exit code 1, no crash.
    const down = await run(process.execPath, ['node-echo.mjs', 'ws://127.0.0.1:1/', `127.0.0.1:${echo.port}`], serverProject);
    expect(down.stderr).toMatch(/^failed: ERR_BRIDGE_UNREACHABLE: /);
    expect(down.code).toBe(1);
  });

  it('tsc with the settings of `tsc --init` type-checks a consumer, and catches a misuse', async () => {
    await ok(run(TSC, ['--init'], serverProject), 'tsc --init');
    const good = await run(TSC, ['--noEmit', '-p', '.'], serverProject);
    expect(good.stdout + good.stderr).toBe('');
    expect(good.code).toBe(0);
    await writeFile(join(serverProject, 'misuse.ts'), "import { connect } from 'wsocks/client';\nconst s = await connect('ws://x/');\ns.open({ hostname: 'a', port: '22' });\n");
    const bad = await run(TSC, ['--noEmit', '-p', '.'], serverProject);
    expect(bad.stdout).toMatch(/misuse\.ts\(3,\d+\): error TS2/);
  });

  it('a Vite app with wsocks/client and wsocks/xterm builds, and its terminal echoes through the bridge in Chromium', async () => {
    const built = await ok(run(join(webProject, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], join(webProject, 'web-terminal')), 'vite build');
    expect(built.stderr).not.toMatch(/error/i);
    const assets = await readdir(join(webProject, 'web-terminal/dist/assets'));
    const js = await readFile(join(webProject, 'web-terminal/dist/assets', assets.find((a) => a.endsWith('.js'))!), 'utf8');
    expect(/ZodError|\$ZodType/.test(js)).toBe(false); // no zod in the browser

    chrome = await launchChromium();
    const browser: Browser = chrome.browser;
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${pageOrigin}/?bridge=${encodeURIComponent(pageBridgeUrl)}`);
    await tab.fill('#target', `127.0.0.1:${echo.port}`);
    await tab.click('#connect');
    await tab.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('open'));
    await tab.click('#terminal');
    // Line mode: cursor keys are swallowed whole, the line goes out on Enter and the echo comes back.
    await tab.keyboard.type('abc');
    await tab.keyboard.press('ArrowLeft');
    await tab.keyboard.press('Home');
    await tab.keyboard.type('X');
    await tab.keyboard.press('Enter');
    await tab.waitForFunction(() => ((globalThis as unknown as { terminalText(): string }).terminalText().match(/^abcX$/gm) ?? []).length >= 2);
    const text = await tab.evaluate(() => (globalThis as unknown as { terminalText(): string }).terminalText());
    expect(text).not.toMatch(/\[D|\[H/);
    // Escape then Tab leaves the terminal for the next control.
    await tab.keyboard.press('Escape');
    await tab.keyboard.press('Tab');
    expect(await tab.evaluate(() => document.activeElement?.id)).toBe('after');
    expect(errors).toEqual([]);
  });
});

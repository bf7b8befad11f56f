import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, startHttp, type Running } from '../helpers/net.ts';

const BIN = join(import.meta.dirname, '../../bin/wsocks.js');

function run(args: string[]): { child: ChildProcess; stdout: Promise<string>; exit: Promise<number>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const stdout = once(child.stdout!, 'data').then(([d]) => String(d));
  const exit = once(child, 'exit').then(([code]) => code as number);
  return { child, stdout, exit, stderr: () => err };
}

describe('wsocks socks (command line)', () => {
  let dir: string;
  let http: Running;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-cli-'));
    http = await startHttp('cli ok');
  });
  afterAll(async () => {
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves with --user and --rules, and stops on SIGTERM', async () => {
    const rules = join(dir, 'ok.rules');
    await writeFile(rules, `deny to *.blocked.test\nallow from 127.0.0.0/8 to 127.0.0.0/8 port ${http.port}\n`);
    const p = run(['socks', '--listen', '127.0.0.1:0', '--user', 'u:p:with:colons', '--rules', rules]);
    const banner = await p.stdout;
    const m = /listening on 127\.0\.0\.1:(\d+) .*SOCKS5 username\/password, 2 rules/.exec(banner);
    expect(m, banner).not.toBeNull();
    const proxy = `127.0.0.1:${m![1]}`;
    const ok = await curl(['--socks5-hostname', proxy, '--proxy-user', 'u:p:with:colons', `http://127.0.0.1:${http.port}/`]);
    expect(ok.stdout).toBe('cli ok');
    const denied = await curl(['--socks5-hostname', proxy, '--proxy-user', 'u:p:with:colons', 'http://www.blocked.test/']);
    expect(denied.stderr).toMatch(/\(2\)|not allowed/);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    const records = p.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'denied', client: '127.0.0.1', user: 'u', version: 5, command: 'connect', target: 'www.blocked.test:80', code: 'ERR_TARGET_DENIED' }),
    );
    expect(p.stderr()).not.toMatch(/with:colons/); // passwords never reach the log
  });

  it('refuses a bad rules file at start, naming the line and the reason', async () => {
    const rules = join(dir, 'bad.rules');
    await writeFile(rules, 'allow from 127.0.0.0/8\n# fine so far\nallow port 99999\n');
    const p = run(['socks', '--listen', '127.0.0.1:0', '--rules', rules]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain(`${rules}:3: port.0: not a port or port range (0-65535): "99999"`);
  });

  it.each([
    [['socks', '--listen', 'nowhere'], /--listen: expected HOST:PORT/],
    [['socks', '--user', 'nopassword'], /--user expects NAME:PASSWORD/],
    [['socks', '--bogus'], /Unknown option '--bogus'/],
    [['fly'], /unknown command "fly"/],
  ])('refuses %j with exit code 2', async (args, message) => {
    const p = run(args);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toMatch(message);
  });

  it.each([
    [['--user', 'hunter2-secret'], 'no ":"', {}],
    [['--user', ':hunter2-secret'], 'empty NAME', {}],
    [[], 'empty NAME', { WSOCKS_USER: ':hunter2-secret' }],
  ])('refuses a malformed account %j without echoing it (it may be the password)', async (args, why, env) => {
    const child = spawn(process.execPath, [BIN, 'socks', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toContain(`expects NAME:PASSWORD (${why}; the value is not shown)`);
    expect(err).not.toContain('hunter2');
  });
});

describe('wsocks bridge (command line)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wsocks-bridge-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts from a config file with --listen overriding it, and stops on SIGTERM', async () => {
    const file = join(dir, 'bridge.json');
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:1', tokens: ['a-long-token'], routes: {} }));
    const p = run(['bridge', '--config', file, '--listen', '127.0.0.1:0']);
    expect(await p.stdout).toMatch(/^wsocks bridge listening on ws:\/\/127\.0\.0\.1:\d+\/\n$/);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });

  it.each([
    [{ policy: { allow: [{ cidr: '10.0.0.0/33' }] } }, /policy\.allow\.0\.cidr: not an IP address or CIDR block: "10\.0\.0\.0\/33"/],
    [{ routes: { corp: [{ type: 'socks6', host: 'h', port: 1 }] } }, /routes\.corp\.hops\.0\.type: /],
    [{ tokens: ['short'] }, /tokens\.0: /],
    [{ lisen: '127.0.0.1:1' }, /lisen/],
  ])('refuses a bad config %j naming the field', async (config, message) => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(config));
    const p = run(['bridge', '--config', file]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain(`${file}: invalid bridge config`);
    expect(p.stderr()).toMatch(message);
  });

  it('refuses a config file that is not JSON', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{ nope');
    const p = run(['bridge', '--config', file]);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain(`${file}: `);
  });
});

describe('wsocks command line: help, errors, exit codes', () => {
  it.each(['socks', 'bridge', 'demo'])('prints the usage of %s with --help and exits 0', async (command) => {
    const p = run([command, '--help']);
    expect(await p.exit).toBe(0);
    const out = await p.stdout;
    expect(out).toContain(`wsocks ${command} [`);
    for (const other of ['socks', 'bridge', 'demo'].filter((c) => c !== command)) expect(out).not.toContain(`wsocks ${other} [`);
  });

  it('names a missing config file once, without repeating the error code, and exits 2', async () => {
    const p = run(['bridge', '--config', '/nonexistent/wsocks.json']);
    expect(await p.exit).toBe(2);
    expect(p.stderr()).toContain("ENOENT: no such file or directory, open '/nonexistent/wsocks.json'");
    expect(p.stderr()).not.toMatch(/ENOENT: ENOENT/);
  });

  it('wsocks demo on a port that is taken: a clear message, exit 1, nothing left running', { timeout: 120_000 }, async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as { port: number }).port;
    try {
      const p = run(['demo', '--listen', `127.0.0.1:${port}`]);
      // It exits by itself: every part it had started is closed again.
      expect(await p.exit).toBe(1);
      expect(p.stderr()).toContain(`127.0.0.1:${port} is taken (EADDRINUSE)`);
    } finally {
      taken.close();
    }
  });
});

